"""A 409 says what is really in the way, with a machine-readable reason, and the alternatives
offered with a refused course can be booked exactly as they are returned."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Closure, Site
from scheduling.models import Appointment
from tests.api.conftest import World
from tests.factories import PatientFactory

V1 = "/api/v1"
FREE_AT = "2026-03-05T15:00:00Z"  # a Thursday afternoon with every chair free in the fixture


def book(world: World, **body):
    return world.client("front_desk").post(f"{V1}/appointments/", body, format="json")


def conflict(response) -> dict:
    assert response.status_code == 409, response.content[:500]
    error = response.json()["error"]
    assert error["code"] == "booking_conflict"
    return error


def test_patient_who_already_has_a_session_then_is_told_so(world):
    taken = world.appointment_a
    error = conflict(book(world, patient=taken.patient_id, site=world.site.pk, starts_at=taken.starts_at.isoformat()))
    assert error["details"]["reason"] == "patient_busy"
    assert "patient already has a session" in error["message"]


def test_a_chair_taken_by_someone_else_is_named_as_the_reason(world):
    taken = world.appointment_a
    other = PatientFactory(home_site=world.site)
    error = conflict(
        book(world, patient=other.pk, site=world.site.pk, starts_at=taken.starts_at.isoformat(), chair=taken.chair_id)
    )
    assert error["details"]["reason"] == "chair_taken"


def test_nurse_capacity_is_named_as_the_reason(world):
    Site.objects.filter(pk=world.site.pk).update(max_patients_per_nurse=1)
    taken = world.appointment_a
    other = PatientFactory(home_site=world.site)
    error = conflict(book(world, patient=other.pk, site=world.site.pk, starts_at=taken.starts_at.isoformat()))
    assert error["details"]["reason"] == "nurse_at_capacity"


def test_a_closure_is_named_as_the_reason(world):
    Closure.objects.create(
        site=world.site,
        starts_at=dt.datetime(2026, 3, 5, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 3, 6, tzinfo=dt.UTC),
        reason="Staff training",
    )
    other = PatientFactory(home_site=world.site)
    error = conflict(book(world, patient=other.pk, site=world.site.pk, starts_at=FREE_AT))
    assert error["details"]["reason"] == "site_closed"
    assert "Staff training" in error["message"]


def test_alternatives_have_the_proposal_shape_and_book_as_returned(world):
    plan = world.draft_plan
    plan.preferred_weekdays = [5]  # Saturdays only; the site is closed at weekends
    plan.save(update_fields=["preferred_weekdays"])
    client = world.client("front_desk")
    refused = client.post(f"{V1}/plans/{plan.pk}/propose-course/", {"start_date": "2026-03-09"}, format="json")
    assert refused.status_code == 409
    alternatives = refused.json()["error"]["details"]["alternatives"]
    assert alternatives
    proposal = client.post(f"{V1}/plans/{plan.pk}/propose-course/", {"start_date": "2026-03-09"}, format="json")
    first = alternatives[0]
    assert set(first) >= {"label", "site", "sessions"}
    session = first["sessions"][0]
    assert set(session) == {"sequence", "phase", "starts_at", "ends_at", "chair", "nurse", "site", "why", "because"}
    assert session["why"]  # why the site's policy chose the time, as a proposal's session says it
    assert session["why"].endswith(f": {session['because']}")  # and the reasons alone
    assert session["starts_at"].endswith("Z") and session["ends_at"].endswith("Z")
    assert session["site"] == first["site"] == world.site.pk
    assert proposal.status_code == 409  # nothing changed between the two calls
    booked = client.post(f"{V1}/plans/{plan.pk}/book-course/", {"sessions": first["sessions"]}, format="json")
    assert booked.status_code == 201, booked.content[:500]
    starts = [a["starts_at"] for a in booked.json()["appointments"]]
    assert starts == [s["starts_at"] for s in first["sessions"]]


def test_a_proposal_books_as_returned_and_its_sequence_and_phase_are_honoured(world):
    plan = world.draft_plan
    client = world.client("front_desk")
    proposal = client.post(f"{V1}/plans/{plan.pk}/propose-course/", {"start_date": "2026-03-09"}, format="json")
    assert proposal.status_code == 200, proposal.content[:300]
    sessions = proposal.json()["sessions"]
    # The shape of an alternative's sessions (above): the why, and its reasons alone.
    assert set(sessions[0]) == {"sequence", "phase", "starts_at", "ends_at", "chair", "nurse", "site", "why", "because"}
    assert all(s["why"].endswith(f": {s['because']}") for s in sessions if s["because"]), sessions
    booked = client.post(f"{V1}/plans/{plan.pk}/book-course/", {"sessions": sessions}, format="json")
    assert booked.status_code == 201, booked.content[:500]
    rows = Appointment.objects.filter(plan=plan).order_by("starts_at")
    assert [a.sequence for a in rows] == [s["sequence"] for s in sessions]


@pytest.mark.parametrize("change", [{"phase": "maintenance"}, {"sequence": 5}])
def test_a_session_phase_or_sequence_that_cannot_be_honoured_is_refused(world, change):
    plan = world.draft_plan
    client = world.client("front_desk")
    sessions = client.post(f"{V1}/plans/{plan.pk}/propose-course/", {"start_date": "2026-03-09"}, format="json").json()[
        "sessions"
    ]
    sessions[0] = {**sessions[0], **change}
    response = client.post(f"{V1}/plans/{plan.pk}/book-course/", {"sessions": sessions}, format="json")
    assert response.status_code == 400, response.content[:500]
    assert "sessions" in response.json()["error"]["fields"]
    assert not Appointment.objects.filter(plan=plan).exists()
