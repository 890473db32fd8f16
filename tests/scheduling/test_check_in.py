"""Check-in happens on the session's own local day only, and a mistaken check-in can be undone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from scheduling import services
from scheduling.errors import CheckInNotOpen, InvalidInput, InvalidState
from scheduling.models import AppointmentStatus
from tests.scheduling.conftest import NOW, START

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def _session(clinic, starts_at: dt.datetime):
    return services.appointment_book(
        patient=clinic.plan().patient,
        site=clinic.site,
        starts_at=starts_at,
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )


def test_a_session_eight_days_ahead_cannot_be_checked_in(clinic):
    session = _session(clinic, dt.datetime.combine(START + dt.timedelta(days=8), dt.time(10), tzinfo=NY))
    with pytest.raises(CheckInNotOpen) as caught:
        services.appointment_check_in(appointment=session, actor=clinic.front_desk.user, now=NOW)
    assert "Check-in for this session opens" in caught.value.message
    assert caught.value.http_status == 409
    session.refresh_from_db()
    assert session.status == AppointmentStatus.BOOKED and session.checked_in_at is None
    # Nor can it then be started: it never got checked in.
    with pytest.raises(InvalidState):
        services.appointment_start(appointment=session, actor=clinic.prescriber.user, now=NOW)


def test_check_in_opens_at_local_midnight_of_the_session_day_and_closes_at_the_end_of_it(clinic):
    session = _session(clinic, dt.datetime.combine(START, dt.time(10), tzinfo=NY))
    # 21:00 the evening before in New York is already the session's date in UTC: the site's zone decides.
    evening_before = dt.datetime.combine(START - dt.timedelta(days=1), dt.time(21), tzinfo=NY)
    assert evening_before.astimezone(dt.UTC).date() == START
    with pytest.raises(CheckInNotOpen):
        services.appointment_check_in(appointment=session, actor=None, now=evening_before)
    just_before = dt.datetime.combine(START, dt.time(0), tzinfo=NY) - dt.timedelta(minutes=1)
    with pytest.raises(CheckInNotOpen):
        services.appointment_check_in(appointment=session, actor=None, now=just_before)
    opening = dt.datetime.combine(START, dt.time(0, 30), tzinfo=NY)
    checked = services.appointment_check_in(appointment=session, actor=None, now=opening)
    assert checked.status == AppointmentStatus.CHECKED_IN


def test_a_late_arrival_is_checked_in_the_same_evening_but_not_the_next_day(clinic):
    first = _session(clinic, dt.datetime.combine(START, dt.time(10), tzinfo=NY))
    services.appointment_check_in(
        appointment=first, actor=None, now=dt.datetime.combine(START, dt.time(23, 50), tzinfo=NY)
    )
    second = _session(clinic, dt.datetime.combine(START + dt.timedelta(days=2), dt.time(10), tzinfo=NY))
    with pytest.raises(CheckInNotOpen):
        services.appointment_check_in(
            appointment=second,
            actor=None,
            now=dt.datetime.combine(START + dt.timedelta(days=3), dt.time(0, 5), tzinfo=NY),
        )


def test_the_check_in_opening_time_is_a_setting(clinic, settings):
    settings.CHECK_IN_OPENS_AT = dt.time(7, 0)
    session = _session(clinic, dt.datetime.combine(START, dt.time(10), tzinfo=NY))
    with pytest.raises(CheckInNotOpen, match="Mon 2 Mar 2026 07:00"):
        services.appointment_check_in(
            appointment=session, actor=None, now=dt.datetime.combine(START, dt.time(6, 59), tzinfo=NY)
        )
    checked = services.appointment_check_in(
        appointment=session, actor=None, now=dt.datetime.combine(START, dt.time(7), tzinfo=NY)
    )
    assert checked.status == AppointmentStatus.CHECKED_IN


def test_undoing_a_mistaken_check_in_restores_confirmed_and_keeps_who_and_why(clinic):
    session = _session(clinic, dt.datetime.combine(START, dt.time(10), tzinfo=NY))
    services.appointment_confirm(appointment=session, actor=None, now=NOW)
    services.appointment_check_in(appointment=session, actor=clinic.front_desk.user, now=session.starts_at)
    with pytest.raises(InvalidInput):
        services.appointment_undo_check_in(
            appointment=session, actor=clinic.front_desk.user, reason=" ", now=session.starts_at
        )
    undone = services.appointment_undo_check_in(
        appointment=session,
        actor=clinic.front_desk.user,
        reason="Checked in the wrong Smith",
        now=session.starts_at,
    )
    assert undone.status == AppointmentStatus.CONFIRMED
    assert undone.checked_in_at is None and undone.confirmed_at is not None
    record = undone.history.first()
    assert record.history_change_reason == "Check-in undone: Checked in the wrong Smith"
    assert record.history_user == clinic.front_desk.user
    # A retry is harmless.
    again = services.appointment_undo_check_in(
        appointment=session, actor=clinic.front_desk.user, reason="x", now=session.starts_at
    )
    assert again.status == AppointmentStatus.CONFIRMED and again.history.count() == undone.history.count()


def test_undoing_a_check_in_of_a_never_confirmed_session_goes_back_to_booked(clinic):
    session = _session(clinic, dt.datetime.combine(START, dt.time(10), tzinfo=NY))
    services.appointment_check_in(appointment=session, actor=None, now=session.starts_at)
    undone = services.appointment_undo_check_in(
        appointment=session, actor=None, reason="Wrong chair row", now=session.starts_at
    )
    assert undone.status == AppointmentStatus.BOOKED


def test_a_check_in_cannot_be_undone_once_the_patient_is_in_the_chair(clinic):
    from tests.clinical_helpers import record_pre_vitals

    session = _session(clinic, dt.datetime.combine(START, dt.time(10), tzinfo=NY))
    services.appointment_check_in(appointment=session, actor=None, now=session.starts_at)
    record_pre_vitals(session, session.nurse.user)
    services.appointment_start(
        appointment=session, actor=clinic.prescriber.user, now=session.starts_at + dt.timedelta(minutes=5)
    )
    with pytest.raises(InvalidState):
        services.appointment_undo_check_in(appointment=session, actor=None, reason="Oops", now=session.starts_at)
