"""The free-slot search: the fast engine method gives exactly what the original
start x chair x nurse loop gave (kept below as the oracle), over random clinics."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduling.engine import Availability, Preferences, Slot, Span
from tests.scheduling.test_engine_properties import FIRST_DAY, HORIZON_DAYS, _instant, clinics
from tests.scheduling.test_placement_properties import works


@st.composite
def busy_clinics(draw):
    """The property tests' random clinics, with nurses given several sessions a day,
    some at once, so loads of 0 to 3 and more occur."""
    site = draw(clinics())
    nurses = []
    for nurse in site.nurses:
        extra = []
        for _ in range(draw(st.integers(0, 30))):
            day = FIRST_DAY + dt.timedelta(days=draw(st.integers(0, 2)))
            start = _instant(day, draw(st.integers(6, 18)), draw(st.sampled_from([0, 15, 30, 45])), site.zone)
            extra.append(Span(start, start + dt.timedelta(minutes=draw(st.sampled_from([30, 60, 120])))))
        nurses.append(dataclasses.replace(nurse, booked=tuple(sorted((*nurse.booked, *extra)))))
    return dataclasses.replace(site, nurses=tuple(nurses))


def oracle_free_slots(
    availability: Availability, day, duration, route, *, chair_ids=None, nurse_ids=None, not_before=None
):
    """The free-slot view's original loop: every nurse checked for every chair at every
    start, each nurse's load recomputed per chair. Plus the closure check the view lacked."""
    chairs = [c for c in availability.site.chairs if route in c.routes]
    if chair_ids is not None:
        chairs = [c for c in chairs if c.id in chair_ids]
    nurses = [n.id for n in availability.site.nurses]
    if nurse_ids is not None:
        nurses = [n for n in nurses if n in nurse_ids]
    starts, _ = availability.candidate_starts(day, duration, Preferences())
    found = []
    for begin in starts:
        if not_before is not None and begin < not_before:
            continue
        span = Span(begin, begin + duration)
        if any(closed.overlaps(span) for closed, _ in availability.site.closures):
            continue
        for chair in chairs:
            free = [
                n
                for n in nurses
                if availability.slot_is_free(Slot(begin, span.end, chair.id, n), ignore_patient=True) is None
            ]
            if free:
                nurse = min(free, key=lambda n: (availability.nurse_load(n, span), n))
                found.append(Slot(begin, span.end, chair.id, nurse))
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    site=busy_clinics(),
    offset=st.integers(0, 2),
    minutes=st.sampled_from([60, 90, 120, 180]),
    route=st.sampled_from(["iv", "intranasal"]),
    narrow=st.sampled_from(["none", "chair", "nurse"]),
    not_before_hour=st.none() | st.integers(0, 23),
)
def test_fast_free_slots_match_the_original_loop(site, offset, minutes, route, narrow, not_before_hour):
    availability = Availability(site)
    day = FIRST_DAY + dt.timedelta(days=offset)
    duration = dt.timedelta(minutes=minutes)
    not_before = (
        None if not_before_hour is None else dt.datetime.combine(day, dt.time(not_before_hour), tzinfo=site.zone)
    )
    chair_ids = [site.chairs[0].id] if narrow == "chair" else None
    nurse_ids = [site.nurses[-1].id] if narrow == "nurse" else None
    fast = list(
        availability.free_slots(day, duration, route, chair_ids=chair_ids, nurse_ids=nurse_ids, not_before=not_before)
    )
    assert fast == oracle_free_slots(
        availability, day, duration, route, chair_ids=chair_ids, nurse_ids=nurse_ids, not_before=not_before
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(site=clinics(), offset=st.integers(0, HORIZON_DAYS - 1))
def test_every_free_slot_is_bookable_and_none_falls_in_a_closure(site, offset):
    availability = Availability(site)
    day = FIRST_DAY + dt.timedelta(days=offset)
    for slot in availability.free_slots(day, dt.timedelta(minutes=120), "iv"):
        assert availability.slot_is_free(slot, ignore_patient=True) is None
        assert not any(closed.overlaps(slot.span) for closed, _ in site.closures)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(site=busy_clinics(), offset=st.integers(0, 2), minutes=st.sampled_from([60, 120]))
def test_for_a_patient_the_search_leaves_out_exactly_the_starts_the_patient_is_busy(site, offset, minutes):
    patient_busy = site.nurses[0].booked[::3]
    availability = Availability(site, patient_busy)
    day = FIRST_DAY + dt.timedelta(days=offset)
    duration = dt.timedelta(minutes=minutes)
    expected = [
        slot
        for slot in oracle_free_slots(availability, day, duration, "iv")
        if not any(busy.overlaps(slot.span) for busy in patient_busy)
    ]
    assert list(availability.free_slots(day, duration, "iv", for_patient=True)) == expected
    first = availability.first_slot(day, duration, "iv", Preferences())
    assert first == (expected[0] if expected else first), "the planner takes the first of the same search"
    assert isinstance(first, Slot) == bool(expected)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    site=busy_clinics(),
    booked_work=works(),
    new_work=works(),
    setups_per_nurse=st.sampled_from([None, 1, 2, 3]),
    offset=st.integers(0, 2),
    minutes=st.sampled_from([60, 120]),
    not_before_hour=st.none() | st.integers(6, 14),
)
def test_fast_free_slots_match_the_original_loop_under_the_nurses_hands_on_limit(
    site, booked_work, new_work, setups_per_nurse, offset, minutes, not_before_hour
):
    """As above, with each booked session's hands-on minutes (setup, checks, discharge) and a
    limit on how many of them one nurse does at once: the sweep's own count of touching
    intervals must agree with `slot_is_free`'s nurse check."""
    nurses = tuple(
        dataclasses.replace(
            nurse, hands_on=tuple(sorted(h for b in nurse.booked for h in booked_work.hands_on(b.start, b.end)))
        )
        for nurse in site.nurses
    )
    site = dataclasses.replace(site, nurses=nurses, setups_per_nurse=setups_per_nurse)
    availability = Availability(site, work=new_work)
    day = FIRST_DAY + dt.timedelta(days=offset)
    duration = dt.timedelta(minutes=minutes)
    not_before = (
        None if not_before_hour is None else dt.datetime.combine(day, dt.time(not_before_hour), tzinfo=site.zone)
    )
    fast = list(availability.free_slots(day, duration, "iv", not_before=not_before))
    assert fast == oracle_free_slots(availability, day, duration, "iv", not_before=not_before)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(site=busy_clinics(), offset=st.integers(0, 2))
def test_a_site_whose_nurses_may_watch_no_patient_offers_no_time(site, offset):
    """The original loop offered nothing when the ratio is 0 (a snapshot built by hand: the
    database holds it at 1 or more); the bit-set sweep's nurse without other sessions must not."""
    availability = Availability(dataclasses.replace(site, max_patients_per_nurse=0))
    assert list(availability.free_slots(FIRST_DAY + dt.timedelta(days=offset), dt.timedelta(minutes=60), "iv")) == []
