"""An overdue maintenance session under the level policy (scheduling.engine.placement)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from scheduling.engine.availability import Availability
from scheduling.engine.model import ChairState, NurseState, Preferences, SiteSnapshot, Span
from scheduling.engine.placement import Placement, Placer, propose_maintenance_placed
from scheduling.engine.planner import MaintenanceRule

NY = ZoneInfo("America/New_York")
TODAY = dt.date(2026, 3, 10)  # a Tuesday


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=NY).astimezone(dt.UTC)


def _site(busy: tuple[Span, ...]) -> SiteSnapshot:
    days = [TODAY + dt.timedelta(days=i) for i in range(10)]
    return SiteSnapshot(
        id=1,
        name="Site",
        zone=NY,
        opening={weekday: (dt.time(8), dt.time(18)) for weekday in range(7)},
        closures=(),
        chairs=(
            ChairState(1, "Chair 1", frozenset({"iv"}), busy),
            ChairState(2, "Chair 2", frozenset({"iv"})),
        ),
        nurses=(NurseState(10, "Nurse", shifts=tuple(Span(_at(d, 7), _at(d, 19)) for d in days)),),
    )


def test_an_overdue_maintenance_session_gets_a_days_notice_under_level():
    """planner.maintenance_target: an overdue session "goes on the next day (a day's notice)". The
    earliest policy does so; the level policy puts it on today, an hour after the re-plan, because
    tomorrow already has a session booked."""
    rule = MaintenanceRule(
        session_length=dt.timedelta(minutes=120), route="iv", interval_days=28, min_days=14, max_days=42
    )
    tomorrow = TODAY + dt.timedelta(days=1)
    busy = (Span(_at(tomorrow, 14), _at(tomorrow, 16)),)
    now = _at(TODAY, 7)  # the re-plan runs at 07:00, before opening
    last_session = _at(TODAY - dt.timedelta(days=60), 10)
    until = TODAY + dt.timedelta(days=5)

    earliest, _, _ = propose_maintenance_placed(
        Placer(Availability(_site(busy)), Placement(policy="earliest")), rule, last_session, until, Preferences(), now
    )
    level, _, _ = propose_maintenance_placed(
        Placer(Availability(_site(busy)), Placement(policy="level")), rule, last_session, until, Preferences(), now
    )

    assert earliest[0].start.astimezone(NY).date() == tomorrow
    assert level[0].start.astimezone(NY).date() > TODAY, (
        f"overdue session placed today at {level[0].start.astimezone(NY):%H:%M}"
    )
