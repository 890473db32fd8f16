"""A hold that has lapsed is free time at once, not only after the beat sweep has cancelled
it: the desk can book its chair, the patient's own time, the free-slot search and the plan's
courses see it free, and the booking releases the lapsed hold itself (its row would still
stand in PostgreSQL's exclusion constraints). A hold that has not lapsed keeps its time."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduling.errors import BookingConflict
from scheduling.models import HOLD_EXPIRED, Appointment, AppointmentStatus, WaitlistOffer
from scheduling.selectors import sites_with_schedule
from scheduling.services import appointment_move, holds_release_expired
from scheduling.services.slot_finder import find_free_slots
from scheduling.services.waitlist import waitlist_offers_sweep
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW
from tests.scheduling.holds_support import AT, UNTIL, book, hold, several_setups_at_once  # noqa: F401  (the fixture)
from tests.scheduling.test_waitlist import _waiting

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


def test_the_board_shows_a_lapsed_hold_as_free_time_not_as_a_session(clinic, client):
    """The desk's board, before the sweep: a hold that has lapsed is neither a session block nor
    hands-on work, its time is a free gap; a hold still running is a session."""
    import re

    import time_machine

    from tests.web.conftest import login

    held = hold(clinic)
    login(client, clinic.front_desk.user)
    day = AT.astimezone(clinic.site.zone).date()

    def board(at: dt.datetime) -> str:
        with time_machine.travel(at, tick=False):
            return client.get(f"/board/?day={day:%Y-%m-%d}&site={clinic.site.pk}").content.decode()

    def page_count(page: str, needle: str) -> int:
        return page.count(needle)

    def held_block_shown(page: str) -> bool:
        return bool(re.search(r'data-testid="session" aria-label="[^"]*Held"', page))

    def chair_row(page: str) -> str:
        start = page.index(f'data-chair="{clinic.chairs[0].name}"')
        return page[start : page.index("</section>", start)]

    running = board(NOW)
    assert held_block_shown(running), "a running hold is on the board"
    assert page_count(running, 'data-testid="hands-on"') == 3  # its setup, check and discharge
    lapsed = board(LAPSED)
    assert not held_block_shown(lapsed)
    assert 'data-testid="session"' not in chair_row(lapsed) and 'data-testid="free-gap"' in chair_row(lapsed)
    assert page_count(lapsed, 'data-testid="hands-on"') == 0
    held.refresh_from_db()
    assert held.status == AppointmentStatus.HELD  # the board changes nothing: the sweep releases it


def test_a_lapsed_hold_released_by_the_sweep_is_not_offered_to_the_waitlist(clinic):
    # A hold was never a booking: cancelled by the sweep, it freed no session for anyone waiting.
    entry = _waiting(clinic, notify_patient=False)
    held = hold(clinic)
    assert holds_release_expired(now=LAPSED) == 1
    assert_released(held)

    with time_machine.travel(LAPSED, tick=False):
        made = waitlist_offers_sweep(now=LAPSED)

    assert made == 0, "the waitlist sweep offered a lapsed hold's time as a freed session"
    assert not WaitlistOffer.objects.filter(entry=entry).exists()
