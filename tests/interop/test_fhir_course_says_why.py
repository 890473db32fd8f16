"""Issue 17: every proposal says in words why its times were chosen. A whole course found through
Appointment/$find (course=true) is chosen by the site's placement policy, as the desk's course page
proposes it: each proposed session says why in Appointment.comment, for the clinic's staff. A
patient's own $find is answered without it (the placement's reasons stay with the clinic, as in the
portal). Single-time proposals are free times in time order for a person to choose from: nothing was
chosen, so they carry no why."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from clinic.models import Site
from scheduling import services
from scheduling.models import TreatmentPlan
from tests.factories import AppointmentFactory, PatientFactory
from tests.interop.fhir_support import find_body, post
from tests.scheduling.conftest import NOW, START

pytestmark = pytest.mark.django_db

POLICIES = ["earliest", "level"]


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _set_policy(world, policy: str) -> None:
    Site.objects.filter(pk=world.clinic.site.pk).update(placement_policy=policy)


def _proposed(response) -> list[dict]:
    assert response.status_code == 200, response.content
    bundle = json.loads(response.content)
    return [e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == "Appointment"]


def json_instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _desk_course_whys(world, patient) -> list[str]:
    """The whys the desk's course proposal gives the patient's open plan (course_propose)."""
    plan = TreatmentPlan.objects.select_related("site", "protocol", "patient").get(patient=patient)
    return [s.why for s in services.course_propose(plan=plan, start_date=START, now=NOW).sessions]


@pytest.mark.parametrize("policy", POLICIES)
def test_a_course_found_by_the_desk_through_fhir_says_why_each_time_was_chosen(world, policy):
    _set_policy(world, policy)
    world.clinic.plan(patient=world.patient_a)
    expected = _desk_course_whys(world, world.patient_a)
    assert all(expected)
    assert all(why.endswith(": the earliest free time") for why in expected) == (policy == "earliest")
    appointments = _proposed(
        post(world.client("front_desk"), "Appointment/$find", find_body(world, world.patient_a, course=True))
    )
    assert len(appointments) == len(expected)
    # Each session's why, in its own Appointment's comment, as the desk's course page says it.
    assert [a.get("comment") for a in appointments] == expected


@pytest.mark.parametrize("policy", POLICIES)
def test_a_course_found_without_an_open_plan_says_why_each_time_was_chosen(world, policy):
    _set_policy(world, policy)
    appointments = _proposed(
        post(world.client("front_desk"), "Appointment/$find", find_body(world, world.patient_b, course=True))
    )
    assert appointments
    zone = world.clinic.site.zone
    for appointment in appointments:
        start = json_instant(appointment["start"]).astimezone(zone)
        why = appointment.get("comment") or ""
        # The engine's words: the session's local time and chair, then why it was chosen.
        assert why.startswith(f"{start:%a %-d %b %Y %H:%M}, Chair "), why
        assert why.endswith(": the earliest free time") == (policy == "earliest"), why


@pytest.mark.parametrize("policy", POLICIES)
def test_a_patients_own_course_through_fhir_is_proposed_without_the_clinics_reasons(world, policy):
    _set_policy(world, policy)
    world.clinic.plan(patient=world.patient_a)
    whys = _desk_course_whys(world, world.patient_a)
    appointments = _proposed(
        post(world.client("patient_a"), "Appointment/$find", find_body(world, world.patient_a, course=True))
    )
    assert len(appointments) == len(whys)
    assert all("comment" not in a for a in appointments)
    # Nor anywhere else in what the patient reads: the placement's words ("the quietest allowed day
    # (0% of chair time booked)", "the earliest free time") stay with the clinic.
    said = [text for a in appointments for text in _strings(a)]
    told = [why.split(": ", 1)[1] for why in whys]
    assert not [words for words in told if any(words in text for text in said)]


@pytest.mark.parametrize("policy", POLICIES)
def test_single_time_proposals_are_free_times_to_choose_from_without_a_why(world, policy):
    _set_policy(world, policy)
    appointments = _proposed(
        post(world.client("front_desk"), "Appointment/$find", find_body(world, world.patient_a, count=3))
    )
    assert len(appointments) == 3
    # In time order, none chosen over another: nothing to say why about.
    assert [a["start"] for a in appointments] == sorted(a["start"] for a in appointments)
    assert all("comment" not in a for a in appointments)


def test_a_patients_course_that_starts_later_is_told_the_day_without_the_clinics_reasons(world):
    # The day asked for is heavy (both chairs busy 10:00-18:00), the next empty: level starts the
    # course a day later. The desk reads why (each day's booked share); the patient the day alone.
    _set_policy(world, "level")
    world.clinic.plan(patient=world.patient_a)
    zone = world.clinic.site.zone
    for chair in world.clinic.site.chairs.all():
        AppointmentFactory(
            chair=chair,
            patient=PatientFactory(home_site=world.clinic.site),
            starts_at=dt.datetime.combine(START, dt.time(10), tzinfo=zone),
            ends_at=dt.datetime.combine(START, dt.time(18), tzinfo=zone),
        )
    body = find_body(world, world.patient_a, course=True)
    desk = json.loads(post(world.client("front_desk"), "Appointment/$find", body).content)
    mine = json.loads(post(world.client("patient_a"), "Appointment/$find", body).content)
    desk_starts = [text for text in _strings(desk) if text.startswith("Starts ")]
    patient_starts = [text for text in _strings(mine) if text.startswith("Starts ")]
    assert len(desk_starts) == 1 and "booked" in desk_starts[0], desk_starts
    # The day, and why the day asked for did not do (as earliest says it); not level's reasons.
    assert len(patient_starts) == 1 and desk_starts[0].startswith(f"{patient_starts[0]}; "), patient_starts
    assert patient_starts[0].startswith("Starts Tue 3 Mar"), patient_starts
    assert not [text for text in _strings(mine) if "booked" in text]
