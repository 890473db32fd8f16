"""A site's closing time that falls in the hour the clocks skip (a night clinic open Sundays
00:00-02:30 in New York, on Sunday 8 March 2026, when 02:00-03:00 does not exist) still closes
the day: at the moment the clocks jump (03:00 EDT), for the free-slot grid, the level policy and
the booking check alike (scheduling.engine.wallclock.opening_instant), not at midnight.

Rule: a session never breaks opening hours (issue 17, "never places a session that breaks
... opening hours"; domain.md: the administrator sets opening hours)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from scheduling.engine import Availability, Preferences, Span
from scheduling.engine.model import ChairState, NurseState, SiteSnapshot, Slot
from scheduling.engine.placement import LEVEL, Placement, Placer
from scheduling.services.core import slot_problem

NY = ZoneInfo("America/New_York")
SPRING = dt.date(2026, 3, 8)  # a Sunday: 02:00-03:00 does not exist in New York


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY).astimezone(dt.UTC)


def _site() -> SiteSnapshot:
    # Open Sundays 00:00-02:30 only; the nurse's shift runs on into the morning (she has paperwork).
    sundays = [SPRING + dt.timedelta(days=7 * week) for week in range(4)]
    shifts = tuple(Span(_at(day, 0), _at(day, 12)) for day in sundays)
    return SiteSnapshot(
        id=1,
        name="Night",
        zone=NY,
        opening={6: (dt.time(0, 0), dt.time(2, 30))},
        closures=(),
        chairs=(ChairState(1, "Chair 1", frozenset({"iv"})),),
        nurses=(NurseState(1, "N1", shifts),),
        max_patients_per_nurse=3,
        step_minutes=15,
        setups_per_nurse=1,
    )


def _closes_by(slot: Slot) -> bool:
    # The site shuts at 02:30 on the wall clock; on the spring-forward night that wall time is
    # skipped. On the most generous reading (02:30 EST, i.e. 03:30 EDT) a session still ends by 03:30.
    return slot.end <= _at(SPRING, 3, 30)


def test_free_slots_stop_at_a_closing_time_the_clocks_skip():
    slots = list(Availability(_site()).free_slots(SPRING, dt.timedelta(minutes=90), "iv"))
    late = [f"{s.start.astimezone(NY):%H:%M}" for s in slots if not _closes_by(s)]
    assert late == [], f"sessions offered after closing: {late[:3]} … {late[-3:]}"


def test_level_placement_keeps_the_closing_time_the_clocks_skip():
    placer = Placer(Availability(_site()), Placement(policy=LEVEL))
    late = [
        f"{c.slot.start.astimezone(NY):%H:%M}"
        for c in placer.candidates(SPRING, dt.timedelta(minutes=90), "iv", Preferences())
        if not _closes_by(c.slot)
    ]
    assert late == [], f"level placement weighs starts after closing: {late[:3]} … {late[-3:]}"


def test_booking_check_refuses_a_session_after_a_closing_time_the_clocks_skip():
    # The booking service's own check (verify_slots -> slot_problem) must refuse 10:30-12:00.
    slot = Slot(_at(SPRING, 10, 30), _at(SPRING, 12, 0), 1, 1)
    assert slot_problem(Availability(_site()), slot, route="iv") is not None


def test_an_opening_time_the_clocks_skip_is_the_moment_they_jump_and_others_are_as_read():
    from scheduling.engine.wallclock import opening_instant

    assert opening_instant(SPRING, dt.time(2, 30), NY) == dt.datetime(2026, 3, 8, 7, tzinfo=dt.UTC)  # 03:00 EDT
    assert opening_instant(SPRING, dt.time(3, 30), NY) == dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC)
    autumn = dt.date(2026, 11, 1)  # 01:30 happens twice: the first, as local_instant reads it
    assert opening_instant(autumn, dt.time(1, 30), NY) == dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)
