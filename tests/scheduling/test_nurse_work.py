"""Nurse work as data: each protocol's setup, checks and discharge are the nurse's hands-on
minutes; a nurse does at most the site's `setups_per_nurse` of them at once."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from scheduling import services
from scheduling.engine import Availability, ChairState, NurseState, Preferences, SiteSnapshot, Slot, Span
from scheduling.engine.model import NurseWork
from scheduling.errors import BookingConflict
from scheduling.services.core import problem_reason
from tests.factories import PatientFactory, ProtocolFactory
from tests.scheduling.conftest import NOW, make_clinic

TEN = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)  # Tue 3 Mar 10:00 in New York
MINUTE = dt.timedelta(minutes=1)


def test_hands_on_intervals_are_setup_checks_and_discharge():
    work = NurseWork(setup_minutes=20, check_offsets_minutes=(40, 80), check_minutes=5, discharge_minutes=10)
    assert work.hands_on(TEN, TEN + 120 * MINUTE) == (
        Span(TEN, TEN + 20 * MINUTE),
        Span(TEN + 40 * MINUTE, TEN + 45 * MINUTE),
        Span(TEN + 80 * MINUTE, TEN + 85 * MINUTE),
        Span(TEN + 110 * MINUTE, TEN + 120 * MINUTE),
    )


def test_a_check_past_the_end_of_a_short_session_is_dropped():
    work = NurseWork(setup_minutes=10, check_offsets_minutes=(50,), check_minutes=5, discharge_minutes=0)
    assert work.hands_on(TEN, TEN + 45 * MINUTE) == (Span(TEN, TEN + 10 * MINUTE),)


def test_pieces_that_overlap_are_one_interval_of_the_nurses_time():
    # A 45-minute session: the check at 40 falls inside the discharge (35-45). The nurse is with one
    # patient, so it is one piece of her hands-on work, not two (which would take two of her
    # hands at one setup per nurse, and count twice on the capacity page).
    work = NurseWork(setup_minutes=20, check_offsets_minutes=(40,), check_minutes=5, discharge_minutes=10)
    assert work.hands_on(TEN, TEN + 45 * MINUTE) == (
        Span(TEN, TEN + 20 * MINUTE),
        Span(TEN + 35 * MINUTE, TEN + 45 * MINUTE),
    )
    # A check inside the setup, and one just touching it: touching pieces stay apart.
    work = NurseWork(setup_minutes=20, check_offsets_minutes=(10, 20), check_minutes=5, discharge_minutes=0)
    assert work.hands_on(TEN, TEN + 60 * MINUTE) == (
        Span(TEN, TEN + 20 * MINUTE),
        Span(TEN + 20 * MINUTE, TEN + 25 * MINUTE),
    )


def _site(setups_per_nurse: int | None, booked_at: list[dt.datetime]) -> SiteSnapshot:
    work = NurseWork()
    booked = tuple(Span(s, s + 120 * MINUTE) for s in booked_at)
    hands = tuple(sorted(h for b in booked for h in work.hands_on(b.start, b.end)))
    return SiteSnapshot(
        id=1,
        name="S",
        zone=ZoneInfo("America/New_York"),
        opening={1: (dt.time(8), dt.time(18))},
        closures=(),
        chairs=tuple(ChairState(i, f"C{i}", frozenset({"iv"})) for i in range(1, 5)),
        nurses=(NurseState(1, "N", (Span(TEN - 3 * 60 * MINUTE, TEN + 8 * 60 * MINUTE),), booked, hands),),
        setups_per_nurse=setups_per_nurse,
    )


@pytest.mark.parametrize(
    ("offset_minutes", "free"),
    [(0, False), (15, False), (30, False), (45, True), (105, False), (120, True)],
)
def test_a_session_is_refused_while_its_hands_on_minutes_meet_anothers(offset_minutes, free):
    # The other session: setup 10:00-10:20, check 10:40-10:45, discharge 11:50-12:00.
    availability = Availability(_site(1, [TEN]))
    start = TEN + offset_minutes * MINUTE
    problem = availability.slot_is_free(Slot(start, start + 120 * MINUTE, 2, 1))
    assert (problem is None) is free
    if not free:
        assert problem_reason(problem) == "nurse_setup_busy"


def test_two_setups_per_nurse_allow_two_at_once_not_three():
    availability = Availability(_site(2, [TEN]))
    assert availability.slot_is_free(Slot(TEN, TEN + 120 * MINUTE, 2, 1)) is None
    availability.claim(Slot(TEN, TEN + 120 * MINUTE, 2, 1))
    assert availability.slot_is_free(Slot(TEN, TEN + 120 * MINUTE, 3, 1)) is not None


def test_without_nurse_work_in_the_snapshot_only_the_ratio_counts():
    availability = Availability(_site(None, [TEN]))
    assert availability.slot_is_free(Slot(TEN, TEN + 120 * MINUTE, 2, 1)) is None


def test_the_free_slot_sweep_offers_no_start_whose_setup_meets_anothers():
    availability = Availability(_site(1, [TEN]))
    day = TEN.astimezone(availability.site.zone).date()
    offered = {slot.start for slot in availability.free_slots(day, 120 * MINUTE, "iv")}
    for start in offered:
        assert availability.slot_is_free(Slot(start, start + 120 * MINUTE, 2, 1)) is None
    assert TEN + 45 * MINUTE in offered
    assert TEN + 15 * MINUTE not in offered and TEN + 30 * MINUTE not in offered


def test_the_first_slot_skips_starts_whose_setup_the_only_nurse_cannot_take():
    availability = Availability(_site(1, [TEN]))
    found = availability.first_slot(
        TEN.astimezone(availability.site.zone).date(), 120 * MINUTE, "iv", Preferences(), not_before=TEN
    )
    assert found.start == TEN + 45 * MINUTE


def test_booking_names_the_busy_nurse_as_its_reason(db):
    clinic = make_clinic(chairs=2, nurses=1)
    first, second = PatientFactory(home_site=clinic.site), PatientFactory(home_site=clinic.site)
    services.appointment_book(
        patient=first, site=clinic.site, starts_at=TEN, chair=clinic.chairs[0], actor=None, now=NOW
    )
    with pytest.raises(BookingConflict) as caught:
        services.appointment_book(
            patient=second, site=clinic.site, starts_at=TEN + 15 * MINUTE, chair=clinic.chairs[1], actor=None, now=NOW
        )
    assert caught.value.details["reason"] == "nurse_setup_busy"
    assert "busy setting up" in caught.value.message
    # Once the first setup and check are done the nurse can take the next patient.
    services.appointment_book(
        patient=second, site=clinic.site, starts_at=TEN + 45 * MINUTE, chair=clinic.chairs[1], actor=None, now=NOW
    )


def test_a_protocol_with_a_shorter_setup_lets_starts_come_closer(db):
    clinic = make_clinic(chairs=2, nurses=1)
    quick = ProtocolFactory(name="Quick setup", nurse_setup_minutes=10, nurse_check_offsets_minutes=[])
    plans = [clinic.plan(protocol=quick), clinic.plan(protocol=quick)]
    services.appointment_book(
        patient=plans[0].patient,
        plan=plans[0],
        site=clinic.site,
        starts_at=TEN,
        chair=clinic.chairs[0],
        actor=None,
        now=NOW,
    )
    services.appointment_book(
        patient=plans[1].patient,
        plan=plans[1],
        site=clinic.site,
        starts_at=TEN + 15 * MINUTE,
        chair=clinic.chairs[1],
        actor=None,
        now=NOW,
    )


def test_a_check_outside_the_session_is_refused_by_the_protocol_form(db):
    protocol = ProtocolFactory.build(session_minutes=90, infusion_minutes=40, nurse_check_offsets_minutes=[88])
    with pytest.raises(ValidationError) as caught:
        protocol.clean()
    assert "nurse_check_offsets_minutes" in caught.value.message_dict
