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


def test_a_session_checked_in_while_the_patients_cancel_is_under_way_is_not_cancelled(world, monkeypatch):
    """The API reads the session's status and the notice period unlocked, then calls the cancel
    service, which, for the desk's sake, also releases CHECKED_IN sessions: a check-in landing in
    between (made certain here at the notice step) must not be undone by the patient's cancel."""
    from clinic.models import ReminderPolicy
    from scheduling.api.appointments import AppointmentViewSet

    ReminderPolicy.objects.filter(site=world.site).update(patient_notice_hours=2)
    session = _session_today(world)  # 3 hours ahead: outside a 2-hour notice
    real_check = AppointmentViewSet._check_patient_notice

    def the_desk_checks_in_meanwhile(view, appointment, now):
        real_check(view, appointment, now)
        services.appointment_check_in(appointment=appointment, actor=world.clinic.front_desk.user, now=NOW)

    monkeypatch.setattr(AppointmentViewSet, "_check_patient_notice", the_desk_checks_in_meanwhile)
    response = world.client("patient_b").post(f"{V1}/appointments/{session.pk}/cancel/", {}, format="json")
    # The request's transaction rolls back with the refusal, the check-in made inside it too: the
    # answer shows the service found the session checked in under its lock and refused.
    assert response.status_code == 409, f"the patient's cancel released a checked-in session: {response.content!r}"
    assert response.json()["error"]["details"]["status"] == AppointmentStatus.CHECKED_IN


def _at_the_deadline(world):
    """A session exactly the (3-hour) notice period ahead: the clock (NOW) stands at its deadline."""
    from clinic.models import ReminderPolicy

    ReminderPolicy.objects.filter(site=world.site).update(patient_notice_hours=3)
    return _session_today(world)


def test_at_the_deadline_instant_the_patients_cancel_is_refused_by_the_apis_own_check(world, monkeypatch):
    """Online changes close at the deadline instant itself (the portal, the reminder links and the
    service all refuse at `starts_at - notice`): the API's check answers, before the service locks
    anything, with the same refusal."""
    session = _at_the_deadline(world)

    def the_service_is_not_reached(**kwargs):
        raise AssertionError("the API's notice check let a cancel through at the deadline instant")

    monkeypatch.setattr(services, "appointment_cancel", the_service_is_not_reached)
    response = world.client("patient_b").post(f"{V1}/appointments/{session.pk}/cancel/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "too_late_for_online_change"
    assert response.json()["error"]["details"] == {"notice_hours": 3}


def test_a_second_before_the_deadline_the_patient_cancels_online(world):
    import time_machine

    session = _at_the_deadline(world)
    with time_machine.travel(NOW - dt.timedelta(seconds=1), tick=False):
        response = world.client("patient_b").post(f"{V1}/appointments/{session.pk}/cancel/", {}, format="json")
    assert response.status_code == 200, response.content
    session.refresh_from_db()
    assert session.status == AppointmentStatus.CANCELLED


def test_a_patient_confirms_until_the_session_starts_not_at_its_start(world):
    """Confirming frees nothing: open past the notice deadline (as the portal), closed from the start."""
    import time_machine

    session = _at_the_deadline(world)
    with time_machine.travel(LATER_TODAY, tick=False):
        at_start = world.client("patient_b").post(f"{V1}/appointments/{session.pk}/confirm/", {}, format="json")
    assert at_start.status_code == 409
    confirmed = world.client("patient_b").post(f"{V1}/appointments/{session.pk}/confirm/", {}, format="json")
    assert confirmed.status_code == 200, confirmed.content
