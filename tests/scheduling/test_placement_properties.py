"""Property-based tests of the level placement policy over random clinics (random chairs,
shifts, bookings, closures, protocols): it never breaks a rule the earliest policy keeps
(protocol, ratio, nurse setup, shift, hours), and it never finds fewer courses than
earliest. The rule checker is the planner tests' own (written apart from the planner),
plus the nurse's hands-on limit checked here from the raw intervals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduling.engine import Availability, NoFit, Preferences, Proposal, Span
from scheduling.engine.model import NurseWork
from scheduling.engine.placement import (
    EARLIEST,
    LEVEL,
    Placement,
    Placer,
    propose_additional_placed,
    propose_induction_placed,
    propose_maintenance_placed,
)
from scheduling.engine.planner import MaintenanceRule, propose_additional
from tests.scheduling.test_engine_properties import FIRST_DAY, clinics, preferences, rule_violations, rules


@st.composite
def works(draw):
    return NurseWork(
        setup_minutes=draw(st.sampled_from([0, 10, 20, 30])),
        check_offsets_minutes=tuple(draw(st.lists(st.sampled_from([30, 40, 60]), max_size=2, unique=True))),
        check_minutes=draw(st.sampled_from([0, 5])),
        discharge_minutes=draw(st.sampled_from([0, 10])),
    )


@st.composite
def clinics_with_nurse_work(draw):
    """The planner tests' random clinics, with each booked session's hands-on minutes (of a
    random protocol's nurse work) and a random number of setups per nurse."""
    site = draw(clinics())
    booked_work = draw(works())
    nurses = tuple(
        dataclasses.replace(
            nurse,
            hands_on=tuple(sorted(h for b in nurse.booked for h in booked_work.hands_on(b.start, b.end))),
        )
        for nurse in site.nurses
    )
    return dataclasses.replace(site, nurses=nurses, setups_per_nurse=draw(st.integers(1, 2)))


def _peak(spans: list[Span]) -> int:
    events = sorted([(s.start, 1) for s in spans] + [(s.end, -1) for s in spans], key=lambda e: (e[0], e[1]))
    peak = current = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def setup_violations(site, work: NurseWork, proposal: Proposal) -> list[str]:
    found = []
    nurses = {n.id: n for n in site.nurses}
    for slot in proposal.slots:
        for interval in work.hands_on(slot.start, slot.end):
            touching = [h for h in nurses[slot.nurse_id].hands_on if h.overlaps(interval)]
            clipped = [Span(max(h.start, interval.start), min(h.end, interval.end)) for h in touching]
            if _peak(clipped) + 1 > site.setups_per_nurse:
                found.append(f"nurse {slot.nurse_id} over {site.setups_per_nurse} hands-on at {interval.start}")
    return found


def _propose(site, policy, rule, prefs, start_day, work, not_before):
    placer = Placer(Availability(site, (), work), Placement(policy=policy))
    return propose_induction_placed(placer, rule, start_day, prefs, not_before)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    site=clinics_with_nurse_work(),
    rule=rules(),
    prefs=preferences(),
    work=works(),
    start_offset=st.integers(0, 10),
)
def test_level_placement_keeps_every_rule_and_finds_every_course_earliest_finds(site, rule, prefs, work, start_offset):
    start_day = FIRST_DAY + dt.timedelta(days=start_offset)
    not_before = dt.datetime.combine(FIRST_DAY, dt.time(0), tzinfo=dt.UTC)
    earliest = _propose(site, EARLIEST, rule, prefs, start_day, work, not_before)
    level = _propose(site, LEVEL, rule, prefs, start_day, work, not_before)
    if isinstance(earliest, Proposal):
        assert isinstance(level, Proposal), level.explain()
    if isinstance(level, NoFit):
        return
    assert rule_violations(site, rule, prefs, [], level, not_before) == []
    assert setup_violations(site, work, level) == []
    assert len(level.reasons) == len(level.slots)
    assert all(reason for reason in level.reasons)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(site=clinics_with_nurse_work(), work=works(), interval=st.integers(7, 14), data=st.data())
def test_level_maintenance_keeps_the_interval_hours_chairs_ratio_and_setups(site, work, interval, data):
    rule = MaintenanceRule(
        session_length=dt.timedelta(minutes=120),
        route="iv",
        interval_days=interval,
        min_days=interval - 3,
        max_days=interval + 3,
    )
    previous = dt.datetime.combine(FIRST_DAY, dt.time(15), tzinfo=dt.UTC)
    until = FIRST_DAY + dt.timedelta(days=40)
    placer = Placer(Availability(site, (), work), Placement(policy=LEVEL))
    slots, missed, reasons = propose_maintenance_placed(placer, rule, previous, until, Preferences())
    assert len(reasons) == len(slots)
    # Never fewer sessions than earliest lays out on the same clinic.
    earliest, _, _ = propose_maintenance_placed(
        Placer(Availability(site, (), work), Placement(policy=EARLIEST)), rule, previous, until, Preferences()
    )
    assert len(slots) >= len(earliest)
    zone = site.zone
    anchor = previous.astimezone(zone).date()
    chairs = {c.id: c for c in site.chairs}
    nurses = {n.id: n for n in site.nurses}
    for slot in slots:
        day = slot.start.astimezone(zone).date()
        # Always from the session placed before it: a session with no free day in its range is
        # reported and ends the layout, never followed by one further away than max_days.
        assert rule.min_days <= (day - anchor).days <= rule.max_days
        anchor = day
        opens, closes = site.opening[day.weekday()]
        assert dt.datetime.combine(day, opens, tzinfo=zone) <= slot.start
        assert slot.end <= dt.datetime.combine(day, closes, tzinfo=zone)
        assert "iv" in chairs[slot.chair_id].routes
        assert not any(b.overlaps(slot.span) for b in chairs[slot.chair_id].busy)
        assert not any(closed.overlaps(slot.span) for closed, _ in site.closures)
        assert any(shift.covers(slot.span) for shift in nurses[slot.nurse_id].shifts)
        overlapping = [b for b in nurses[slot.nurse_id].booked if b.overlaps(slot.span)]
        clipped = [Span(max(b.start, slot.start), min(b.end, slot.end)) for b in overlapping]
        assert _peak(clipped) + 1 <= site.max_patients_per_nurse
    # Only the last session looked for can be missing; after it nothing is laid out.
    assert len(missed) <= 1
    if missed:
        assert missed[0].day > anchor
    # Sessions of one patient never overlap one another either.
    assert all(a.end <= b.start for a, b in itertools.pairwise(slots))
    assert setup_violations(site, work, Proposal(slots=slots)) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    site=clinics_with_nurse_work(),
    rule=rules(),
    work=works(),
    count=st.integers(1, 4),
    start_offset=st.integers(0, 10),
    after_hours=st.none() | st.integers(1, 72),
)
def test_level_reflow_keeps_the_gap_one_a_day_and_the_window_end(site, rule, work, count, start_offset, after_hours):
    # A re-flow of the rest of an induction (a missed session): every session on its own day,
    # after the last one held by the minimum gap, and never past the window's last day.
    first_day = FIRST_DAY + dt.timedelta(days=start_offset)
    last_day = first_day + dt.timedelta(days=max(rule.span_days, count) - 1)
    start = dt.datetime.combine(first_day, dt.time(0), tzinfo=site.zone)
    after = None if after_hours is None else start - dt.timedelta(hours=after_hours)
    prefs = Preferences()
    earliest = propose_additional(Availability(site, (), work), rule, count, first_day, last_day, prefs, after, None)
    placer = Placer(Availability(site, (), work), Placement(policy=LEVEL))
    level = propose_additional_placed(placer, rule, count, first_day, last_day, prefs, after, None)
    if isinstance(earliest, Proposal):
        assert isinstance(level, Proposal), level.explain()
    if isinstance(level, NoFit):
        return
    days = [slot.start.astimezone(site.zone).date() for slot in level.slots]
    assert len(level.slots) == count == len(level.reasons)
    assert all(first_day <= day <= last_day for day in days)
    assert len(set(days)) == len(days)
    starts = ([after] if after is not None else []) + [slot.start for slot in level.slots]
    assert all(later - earlier >= rule.min_gap for earlier, later in itertools.pairwise(starts))
    assert setup_violations(site, work, level) == []
