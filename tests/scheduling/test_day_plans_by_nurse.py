"""Day plans of a site whose nurses work different shifts: its template names each start's
nurse by shift (scheduling.engine.day_template._solve_by_nurse), and a day with sessions booked
off it is solved again per nurse around them (solve_day_plan_by_nurse, day_plans_refresh).
Every date is fixed."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from dataclasses import replace

import pytest

from scheduling.engine.availability import Availability
from scheduling.engine.day_template import _wall_minutes, solve_day_plan_by_nurse
from scheduling.engine.model import ChairState, NurseState, SiteSnapshot, Span
from scheduling.engine.wallclock import shift_hours
from scheduling.models import DayPlan
from scheduling.selectors import PlanDay, preferred_starts
from scheduling.services.day_plans import day_plans_refresh
from tests.scheduling.test_day_plans import DAY, ZONE, _at
from tests.scheduling.test_day_plans import _snapshot as _plan_snapshot
from tests.scheduling.test_day_template_service import (
    BOOK_DAY,
    LATER,
    STAGGERED,
    _book_at,
    _entry_nurse,
    _regenerate,
    _staggered_clinic,
)
from tests.scheduling.test_day_template_solver import IV, WORKED
from tests.solver_limits import PROVING_TIME_LIMIT_SECONDS

# As the tests' settings give the service a day (DAY_PLAN_TIME_LIMIT_SECONDS): the work budget
# decides the plan, and the wall clock only bounds a machine far too slow for it.
LIMIT = PROVING_TIME_LIMIT_SECONDS

# Two early nurses and two late ones.
SHIFTS = {
    101: (dt.time(7, 30), dt.time(16)),
    102: (dt.time(7, 30), dt.time(16)),
    103: (dt.time(9, 30), dt.time(18)),
    104: (dt.time(9, 30), dt.time(18)),
}
# Booked before the template: Chair 1 at 09:10 and Chair 2 at 11:50 with an early nurse, Chair 3
# at 13:05 with a late one.
BOOKED = [(1, 101, _at(9, 10)), (2, 101, _at(11, 50)), (3, 103, _at(13, 5))]


def _snapshot(booked, closures=(), *, shifts=SHIFTS, work=None) -> SiteSnapshot:
    return _plan_snapshot(booked, shifts=shifts, closures=tuple(closures), work=work)


def _minute(instant_or_clock) -> int:
    local = instant_or_clock.astimezone(ZONE) if isinstance(instant_or_clock, dt.datetime) else instant_or_clock
    return local.hour * 60 + local.minute


def _assert_each_nurse_can_hold_her_day(outcome, booked, closed=()):
    by_nurse: dict[int, list[tuple[int, int]]] = {n: [] for n in SHIFTS}
    for chair, nurse, start in booked:
        by_nurse[nurse].append((_minute(start), chair))
    for chair, rows in outcome.starts.items():
        for clock, _ in rows:
            by_nurse[outcome.nurses[chair, clock]].append((_minute(clock), chair))
            # No planned session while the site is closed (those booked before stay as they are).
            assert all(not (a < _minute(clock) + 120 and _minute(clock) < b) for a, b in closed)
    for nurse, sessions in by_nurse.items():
        begins, ends = (_minute(clock) for clock in SHIFTS[nurse])
        assert all(begins <= s and s + 120 <= ends for s, _ in sessions), nurse
        work = sorted((s + offset, s + offset + length) for s, _ in sessions for offset, length in WORKED.hands_on())
        assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(work)), nurse
        watched = Counter(minute for s, _ in sessions for minute in range(s, s + 120))
        assert max(watched.values(), default=0) <= 3, nurse
    by_chair: dict[int, list[int]] = {}
    for sessions in by_nurse.values():
        for s, chair in sessions:
            by_chair.setdefault(chair, []).append(s)
    for starts in by_chair.values():
        assert all(b - a >= 120 for a, b in itertools.pairwise(sorted(starts)))


def test_a_day_of_nurses_on_different_shifts_is_solved_around_its_bookings_each_start_with_its_nurse():
    outcome = solve_day_plan_by_nurse(snapshot=_snapshot(BOOKED), day=DAY, protocols=[WORKED], time_limit_seconds=LIMIT)

    assert outcome.status in {"OPTIMAL", "FEASIBLE"}
    assert outcome.sessions > 30
    assert set(outcome.nurses) == {(chair, clock) for chair, rows in outcome.starts.items() for clock, _ in rows}
    _assert_each_nurse_can_hold_her_day(outcome, BOOKED)


def test_a_closure_keeps_the_plan_off_its_hours():
    closed = [(_at(12), _at(13))]
    outcome = solve_day_plan_by_nurse(
        snapshot=_snapshot(BOOKED, closed), day=DAY, protocols=[WORKED], time_limit_seconds=LIMIT
    )

    assert outcome.sessions > 20
    _assert_each_nurse_can_hold_her_day(outcome, BOOKED, closed=[(12 * 60, 13 * 60)])


@pytest.mark.django_db
def test_a_staggered_site_gets_a_plan_for_a_day_booked_off_its_template_and_every_plan_start_books():
    clinic = _staggered_clinic()
    template = _regenerate(clinic)
    whole_day = clinic.nurses[1]  # 08:00-18:00
    chair = clinic.chairs[0]
    off = _book_at(clinic, BOOK_DAY, chair.pk, dt.time(9, 10), nurse=whole_day)
    assert all(e["start"] != "09:10" for e in template.starts if e["chair_id"] == chair.pk)

    report = day_plans_refresh(site=clinic.site, now=LATER)

    assert report.solved == [BOOK_DAY]
    plan = DayPlan.objects.get(site=clinic.site, day=BOOK_DAY)
    assert plan.starts and all(e.get("nurse_id") for e in plan.starts)
    assert preferred_starts(site_id=clinic.site.pk, day=BOOK_DAY) != preferred_starts(site_id=clinic.site.pk)
    # The desk books every start of the plan on its chair and leaves the nurse to placement.
    for entry in sorted(plan.starts, key=lambda e: e["start"]):
        booked = _book_at(clinic, BOOK_DAY, entry["chair_id"], entry["start"])
        assert booked.nurse_id == entry["nurse_id"]
    # Booked as planned: the plan stands; the session booked off it is still there.
    assert day_plans_refresh(site=clinic.site, now=LATER).unchanged == 1
    off.refresh_from_db()
    assert off.status == "booked"


@pytest.mark.django_db
def test_a_template_start_needs_no_plan_with_its_shifts_nurse_and_one_with_another():
    clinic = _staggered_clinic()
    template = _regenerate(clinic)
    entry = min(template.starts, key=lambda e: e["start"])
    clock = dt.time.fromisoformat(entry["start"])
    chair = next(c for c in clinic.chairs if c.pk == entry["chair_id"])
    named = _entry_nurse(clinic, entry)
    # A nurse of another shift who could take the session too (on shift for all of it).
    other = next(
        nurse
        for nurse, (begins, ends) in zip(clinic.nurses, STAGGERED, strict=True)
        if nurse.pk != named.pk and begins <= clock and (clock.hour + 2, clock.minute) <= (ends.hour, ends.minute)
    )

    _book_at(clinic, BOOK_DAY, chair.pk, clock, nurse=named)
    _book_at(clinic, BOOK_DAY + dt.timedelta(days=1), chair.pk, clock, nurse=other)

    assert day_plans_refresh(site=clinic.site, now=LATER).solved == [BOOK_DAY + dt.timedelta(days=1)]


def test_booked_work_beyond_a_nurses_limits_leaves_her_no_room_but_plans_the_others():
    # The site allowed two setups per nurse when the early nurse 101 took two patients at 08:00;
    # it allows one now. Her booked work is two pieces at once (08:00-08:20, 08:40-08:45,
    # 09:50-10:00), beyond her limit. The day is still planned around it: the others as usual, and
    # she takes nothing that meets her booked work or watches more than three at once with it.
    booked = [(1, 101, _at(8)), (2, 101, _at(8))]

    outcome = solve_day_plan_by_nurse(snapshot=_snapshot(booked), day=DAY, protocols=[WORKED], time_limit_seconds=LIMIT)

    assert outcome.kept == frozenset()
    assert outcome.sessions > 30
    others = {c: [row for row in rows if outcome.nurses[c, row[0]] != 101] for c, rows in outcome.starts.items()}
    _assert_each_nurse_can_hold_her_day(replace(outcome, starts=others), [])
    hers = [_minute(clock) for (_, clock), nurse in outcome.nurses.items() if nurse == 101]
    assert hers, "the early nurse still takes sessions after her booked ones"
    booked_pieces = [(8 * 60 + a, 8 * 60 + a + n) for a, n in WORKED.hands_on()]
    for start in hers:
        for offset, length in WORKED.hands_on():
            assert all(not (a < start + offset + length and start + offset < b) for a, b in booked_pieces), start
    watched = Counter(m for start in [*hers, 8 * 60, 8 * 60] for m in range(start, start + 120))
    assert max(watched.values()) <= 3


def test_with_more_nurses_than_chairs_a_day_plan_is_proven_and_the_same_every_time():
    # 14 nurses on one shift for 12 chairs, a session booked off the rhythm: the chairs bind.
    many = {200 + n: (dt.time(6), dt.time(20)) for n in range(14)}
    booked = [(1, 200, _at(9, 10))]
    snapshot = _snapshot(booked, shifts=many)
    snapshot = replace(snapshot, opening={d: (dt.time(7), dt.time(19)) for d in range(5)})

    first = solve_day_plan_by_nurse(snapshot=snapshot, day=DAY, protocols=[WORKED], time_limit_seconds=LIMIT)
    again = solve_day_plan_by_nurse(snapshot=snapshot, day=DAY, protocols=[WORKED], time_limit_seconds=LIMIT)

    assert first.status == "OPTIMAL"
    assert (first.starts, first.nurses) == (again.starts, again.nurses)
    # Chair 1 holds one before its booked 09:10-11:10 and three after it (the fourth would end at
    # 19:10, after closing); the eleven others six each.
    assert first.sessions == 4 + 6 * 11


def _one_chair_site(closes: dt.time, *nurses: NurseState) -> SiteSnapshot:
    """One IV chair, open 08:00 to `closes` on weekdays, one setup per nurse at a time."""
    return SiteSnapshot(
        id=1,
        name="One chair",
        zone=ZONE,
        opening={d: (dt.time(8), closes) for d in range(5)},
        closures=(),
        chairs=(ChairState(id=1, name="Chair 1", routes=IV),),
        nurses=nurses,
        setups_per_nurse=1,
    )


def test_a_shift_past_midnight_is_found_by_the_hours_the_template_records():
    # 16:00 to 00:00: the template records it as 16:00-23:59 (the end on the shift's own day).
    late = Span(_at(16), _at(0, day=DAY + dt.timedelta(days=1)))
    assert shift_hours(late.start, late.end, ZONE) == (dt.time(16), dt.time(23, 59))
    snapshot = _one_chair_site(
        dt.time(23),
        NurseState(id=7, name="Late", shifts=(late,)),
        NurseState(id=8, name="Day", shifts=(Span(_at(8), _at(18)),)),
    )
    session = Span(_at(16), _at(18))

    availability = Availability(snapshot)

    assert availability.nurses_on_shift(session, shift=(dt.time(16), dt.time(23, 59))) == [7]
    assert availability.nurses_on_shift(session, shift=(dt.time(8), dt.time(18))) == [8]
    held = PlanDay(shifts=[(7, late.start, late.end), (8, _at(8), _at(18))])
    assert held.nurses_by_shift_hours(ZONE, DAY) == {
        (dt.time(16), dt.time(23, 59)): [7],
        (dt.time(8), dt.time(18)): [8],
    }


def test_an_overnight_shift_from_the_day_before_is_not_one_of_the_days_shifts_by_hours():
    # Nurse 8 worked 22:00-06:00 the night before; nurses 7 and 9 work 22:00-06:00 tonight. A
    # template start naming the 22:00 shift means one of tonight's (placement finds the nurses
    # whose shift covers the start): nurse 8's night, which touches the day's early hours, is not
    # a third nurse on those hours.
    tomorrow = DAY + dt.timedelta(days=1)
    night_before = (8, _at(22), _at(6, day=tomorrow))
    that_night = (7, _at(22, day=tomorrow), _at(6, day=tomorrow + dt.timedelta(days=1)))
    held = PlanDay(
        shifts=[night_before, that_night, (9, _at(22, day=tomorrow), _at(6, day=tomorrow + dt.timedelta(days=1)))]
    )

    assert held.nurses_by_shift_hours(ZONE, tomorrow) == {(dt.time(22), dt.time(23, 59)): [7, 9]}
    assert PlanDay(shifts=[night_before]).nurses_by_shift_hours(ZONE, tomorrow) == {}


def test_a_shift_with_seconds_is_read_inside_its_hours_and_a_session_over_them():
    # Read as a shift, 08:00:30-16:00:30 holds sessions from 08:01 to 16:00 only; read as what
    # it holds (a session, a closure), it takes 08:00 to 16:01.
    half = dt.timedelta(seconds=30)
    span = Span(_at(8) + half, _at(16) + half)
    assert _wall_minutes(span, DAY, ZONE, within=True) == (8 * 60 + 1, 16 * 60)
    assert _wall_minutes(span, DAY, ZONE) == (8 * 60, 16 * 60 + 1)


def test_a_shift_entered_with_seconds_is_still_the_shift_its_template_starts_name():
    # The template writes a shift's hours to the minute ("07:00"); a shift row of 07:00:30-15:00:45
    # is that shift for placement and for the day plans alike.
    shift = Span(_at(7) + dt.timedelta(seconds=30), _at(15) + dt.timedelta(seconds=45))
    assert shift_hours(shift.start, shift.end, ZONE) == (dt.time(7), dt.time(15))
    snapshot = _one_chair_site(
        dt.time(15),
        NurseState(id=3, name="A", shifts=(Span(_at(8), _at(15)),)),
        NurseState(id=5, name="B", shifts=(shift,)),
    )
    assert Availability(snapshot).nurses_on_shift(Span(_at(9), _at(11)), shift=(dt.time(7), dt.time(15))) == [5]
    assert PlanDay(shifts=[(5, shift.start, shift.end)]).nurses_by_shift_hours(ZONE, DAY) == {
        (dt.time(7), dt.time(15)): [5]
    }
