"""The plans API: what the front desk learns from a refusal or a released session, the eligibility
answer's day, and which site ids a refusal tells apart."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from patients.models import Contraindication, Patient
from scheduling.services import patient_eligibility
from tests.api.conftest import build_world
from tests.factories import PatientFactory

V1 = "/api/v1"


@pytest.fixture
def world2(db, frozen):
    """Two sites: the personas work at the first; `world2.two` is a second site none of them works at."""
    return build_world(two_sites=True)


def test_a_course_refused_on_screening_does_not_tell_the_front_desk_the_patients_clinical_reasons(world):
    """A course refused on screening tells the front desk only that a prescriber's screening decision
    is needed, not the reasons (seizure history, flags, readings), which the chart shows clinicians."""
    Contraindication.objects.create(code="seizures", label="History of seizures", kind="seizure_history")
    patient = world.draft_plan.patient
    Patient.objects.filter(pk=patient.pk).update(seizure_history=True)
    desk = world.client("front_desk")
    # The front desk cannot read the field itself: it comes back null.
    assert desk.get(f"{V1}/patients/{patient.pk}/").json()["seizure_history"] is None

    refused = desk.post(f"{V1}/plans/{world.draft_plan.pk}/book-course/", {"start_date": "2026-03-09"}, format="json")

    assert 400 <= refused.status_code < 500
    assert "seizure" not in refused.content.decode().lower(), refused.json()


def test_the_eligibility_answer_is_the_booking_gates_verdict_for_a_patient_living_in_another_zone(world):
    """GET /patients/<id>/eligibility/ judges the day at the clinic (the home site's zone), as the
    booking gate and the chart do: on an 18th birthday in New York a patient living in Honolulu is
    not told "under 18"."""
    Contraindication.objects.create(code="minors", label="Younger than 18", kind="min_age", threshold=18)
    patient = PatientFactory(home_site=world.site, time_zone="Pacific/Honolulu", date_of_birth=dt.date(2008, 3, 10))
    # 06:00 UTC on 10 March 2026: 02:00 on the birthday in New York, still 9 March (20:00) in Honolulu.
    moment = dt.datetime(2026, 3, 10, 6, tzinfo=dt.UTC)
    at_clinic = patient_eligibility(patient=patient, on=moment.astimezone(world.site.zone).date())
    assert at_clinic.eligible  # what the booking gate and the chart decide

    with time_machine.travel(moment, tick=False):
        answer = world.client("prescriber").get(f"{V1}/patients/{patient.pk}/eligibility/")

    assert answer.status_code == 200
    assert answer.json() == {"eligible": True, "reasons": []}


def test_a_plans_end_reason_hidden_from_the_front_desk_is_not_shown_on_its_released_sessions(world):
    """A plan's end reason is hidden from the front desk, and the sessions it released say only "Plan
    ended": the prescriber's clinical reason stays with the plan."""
    plan = world.plan_b
    reason = "Escalating dissociation and suspected misuse"
    prescriber = world.client("prescriber")
    ended = prescriber.post(f"{V1}/plans/{plan.pk}/end/", {"reason": reason, "version": plan.version}, format="json")
    assert ended.status_code == 200, ended.json()
    desk = world.client("front_desk")
    assert desk.get(f"{V1}/plans/{plan.pk}/").json()["end_reason"] is None

    sessions = desk.get(f"{V1}/appointments/", {"plan": plan.pk, "limit": 200}).json()["results"]

    assert sessions
    assert not [s["cancellation_reason"] for s in sessions if reason in (s["cancellation_reason"] or "")]


def test_book_course_answers_another_sites_id_as_it_answers_a_missing_one(world2):
    """book-course answers a site id that does not exist as it answers another site's: which site ids
    exist is not told."""
    w = world2
    desk = w.client("front_desk")
    proposed = desk.post(f"{V1}/plans/{w.draft_plan.pk}/propose-course/", {"start_date": "2026-03-09"}, format="json")
    assert proposed.status_code == 200
    sessions = proposed.json()["sessions"]
    missing_site = w.two.site.pk + 1000
    assert desk.get(f"{V1}/sites/{w.two.site.pk}/").status_code == desk.get(f"{V1}/sites/{missing_site}/").status_code

    answers = [
        desk.post(
            f"{V1}/plans/{w.draft_plan.pk}/book-course/",
            {"sessions": [dict(s, site=site) for s in sessions]},
            format="json",
        )
        for site in (w.two.site.pk, missing_site)
    ]

    elsewhere, missing = ((a.status_code, a.json()["error"]["code"], a.json()["error"]["message"]) for a in answers)
    assert elsewhere == missing
