"""Patients cancel online only before the notice period: a session the desk has already checked in
(the patient is at the clinic, hours before the start) is no exception."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling import services
from scheduling.models import AppointmentStatus
from tests.api.conftest import build_world, frozen  # noqa: F401  (fixture)
from tests.scheduling.conftest import NOW

V1 = "/api/v1"
# Friday 27 February 2026, 13:00 in New York: three hours after NOW, inside the 24-hour notice.
LATER_TODAY = NOW + dt.timedelta(hours=3)


@pytest.fixture
def world(db, frozen):  # noqa: F811
    return build_world()


def _session_today(world):
    # The patient's sessions earlier today are the world's: a prescriber accepts a third, having
    # documented the decision to treat despite the flag the world records.
    services.plan_override_eligibility(
        plan=world.plan_b, reason="Psychiatrist's letter on file", actor=world.clinic.prescriber.user, now=NOW
    )
    return services.appointment_book(
        patient=world.plan_b.patient,
        site=world.site,
        starts_at=LATER_TODAY,
        chair=world.clinic.chairs[0],
        actor=world.clinic.prescriber.user,
        now=NOW,
        override_reason="Make-up session the same day, by the prescriber",
    )


def test_a_booked_session_inside_the_notice_period_cannot_be_cancelled_online(world):
    # The behaviour the next test compares with (passes today).
    session = _session_today(world)
    response = world.client("patient_b").post(f"{V1}/appointments/{session.pk}/cancel/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "too_late_for_online_change"


def test_a_checked_in_session_inside_the_notice_period_cannot_be_cancelled_online_either(world):
    session = _session_today(world)
    services.appointment_check_in(appointment=session, actor=world.clinic.front_desk.user, now=NOW)
    response = world.client("patient_b").post(f"{V1}/appointments/{session.pk}/cancel/", {}, format="json")
    session.refresh_from_db()
    assert session.status == AppointmentStatus.CHECKED_IN, (
        f"the patient cancelled a checked-in session 3 h before it starts: HTTP {response.status_code}, "
        f"status now {session.status}"
    )
    assert response.status_code == 409
