"""A hold that has lapsed is free time at once, not only after the beat sweep has cancelled
it: the desk can book its chair, the patient's own time, the free-slot search and the plan's
courses see it free, and the booking releases the lapsed hold itself (its row would still
stand in PostgreSQL's exclusion constraints). A hold that has not lapsed keeps its time."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.errors import BookingConflict
from scheduling.models import HOLD_EXPIRED, Appointment, AppointmentStatus
from scheduling.selectors import sites_with_schedule
from scheduling.services import appointment_move
from scheduling.services.slot_finder import find_free_slots
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW
from tests.scheduling.holds_support import AT, UNTIL, book, hold, several_setups_at_once  # noqa: F401  (the fixture)

LAPSED = UNTIL + dt.timedelta(seconds=30)  # before the next sweep
pytestmark = pytest.mark.usefixtures("several_setups_at_once")


def assert_released(held: Appointment) -> None:
    held.refresh_from_db()
    assert held.status == AppointmentStatus.CANCELLED
    assert held.cancellation_reason == HOLD_EXPIRED and held.cancelled_at == LAPSED
    assert held.history.first().history_change_reason == HOLD_EXPIRED


def test_the_desk_books_a_lapsed_holds_chair_before_the_sweep_and_the_hold_is_released(clinic):
    held = hold(clinic)
    booked = book(clinic, now=LAPSED)
    assert booked.status == AppointmentStatus.BOOKED and booked.chair_id == held.chair_id
    assert_released(held)


def test_a_patients_lapsed_hold_does_not_keep_them_busy(clinic):
    patient = PatientFactory(home_site=clinic.site)
    held = hold(clinic, patient)
    booked = book(clinic, now=LAPSED, patient=patient, chair=clinic.chairs[1])
    assert booked.starts_at == held.starts_at
    assert_released(held)


def test_a_hold_that_has_not_lapsed_still_keeps_its_chair(clinic):
    held = hold(clinic)
    with pytest.raises(BookingConflict):
        book(clinic, now=UNTIL - dt.timedelta(seconds=1))
    held.refresh_from_db()
    assert held.status == AppointmentStatus.HELD


def test_a_session_moves_onto_a_lapsed_holds_time(clinic):
    held = hold(clinic)
    other = book(clinic, now=NOW, starts_at=AT + dt.timedelta(hours=3))
    moved = appointment_move(
        appointment=other, starts_at=AT, actor=clinic.front_desk.user, now=LAPSED, chair=clinic.chairs[0]
    )
    assert moved.starts_at == AT and moved.chair_id == held.chair_id
    assert_released(held)


def test_the_free_slot_search_shows_a_lapsed_holds_time_free(clinic):
    held = hold(clinic)
    site = sites_with_schedule().get(pk=clinic.site.pk)
    day = AT.astimezone(site.zone).date()

    def free_in_held_chair(now):
        days = find_free_slots(
            site=site,
            patient=PatientFactory(home_site=clinic.site),
            first_day=day,
            last_day=day,
            duration=dt.timedelta(hours=2),
            route=clinic.protocol.route,
            now=now,
            chair_ids=[held.chair_id],
        )
        return {choice.slot.start for d in days for choice in d.choices}

    assert AT not in free_in_held_chair(UNTIL - dt.timedelta(seconds=1))
    assert AT in free_in_held_chair(LAPSED)
    held.refresh_from_db()
    assert held.status == AppointmentStatus.HELD  # a search writes nothing
