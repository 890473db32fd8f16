"""On the night the clocks go back, the local 01:00-02:00 happens twice: a start at 01:15 EDT and
one at 01:15 EST are an hour apart, so the level policy must not count them as setups in the same
quarter hour (scheduling.engine.placement._bucket). Rule: issue 17, "a level count of starts per
15 minutes"; a night clinic open over the change (00:00-04:00 on Sunday 1 November 2026, New York)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from scheduling.engine import Availability, Span
from scheduling.engine.model import ChairState, NurseState, SiteSnapshot, Slot
from scheduling.engine.placement import LEVEL, Placement, Placer

NY = ZoneInfo("America/New_York")
AUTUMN = dt.date(2026, 11, 1)  # a Sunday: 01:00-02:00 happens twice in New York
FIRST_0115 = dt.datetime(2026, 11, 1, 5, 15, tzinfo=dt.UTC)  # 01:15 EDT
SECOND_0115 = dt.datetime(2026, 11, 1, 6, 15, tzinfo=dt.UTC)  # 01:15 EST, an hour later


def _site(booked: Span) -> SiteSnapshot:
    shift = Span(dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC))
    return SiteSnapshot(
        id=1,
        name="Night",
        zone=NY,
        opening={6: (dt.time(0, 0), dt.time(4, 0))},
        closures=(),
        chairs=(
            ChairState(1, "Chair 1", frozenset({"iv"}), busy=(booked,)),
            ChairState(2, "Chair 2", frozenset({"iv"})),
        ),
        nurses=(NurseState(1, "N1", (shift,)),),
        max_patients_per_nurse=3,
        step_minutes=15,
        setups_per_nurse=1,
    )


def test_the_two_1_15s_of_the_night_the_clocks_go_back_are_different_quarter_hours():
    booked = Span(FIRST_0115, FIRST_0115 + dt.timedelta(minutes=40))
    placer = Placer(Availability(_site(booked)), Placement(policy=LEVEL))
    # The score's second weight: the starts in the slot's quarter hour beyond what the one nurse
    # on shift can set up at once (one).
    second = placer.score(Slot(SECOND_0115, SECOND_0115 + dt.timedelta(minutes=40), 2, 1))
    first = placer.score(Slot(FIRST_0115, FIRST_0115 + dt.timedelta(minutes=40), 2, 1))
    assert (first[1], second[1]) == (1, 0)


def test_the_second_1_15_is_explained_as_a_quarter_hour_with_no_other_start():
    """The words agree with the count: the first 01:15 is not "another start" of the second."""
    booked = Span(FIRST_0115, FIRST_0115 + dt.timedelta(minutes=40))
    placer = Placer(Availability(_site(booked)), Placement(policy=LEVEL))
    second = Slot(SECOND_0115, SECOND_0115 + dt.timedelta(minutes=40), 2, 1)
    first = Slot(FIRST_0115, FIRST_0115 + dt.timedelta(minutes=40), 2, 1)
    ranked = placer.rank([first, second])
    by_start = {c.slot.start: c.why for c in ranked}
    assert "no other start 01:15" in by_start[SECOND_0115], by_start
