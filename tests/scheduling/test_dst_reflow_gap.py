"""A re-flow's first session keeps the protocol's gap after the last infusion in real time, also
across the night the clocks spring forward: with the last infusion Saturday 7 March 2026 10:00 EST
in New York (15:00 UTC), a one-day gap ends Sunday 8 March 11:00 EDT (15:00 UTC), not at 10:00 EDT,
23 hours later. The time of the last infusion may come in the site's zone (a caller's local time):
the gap is added in real time all the same, under either placement policy.

Found by the property test tests/scheduling/test_placement_properties.py (a re-flow keeps the gap)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from scheduling.engine import Availability, Preferences, Span, propose_additional
from scheduling.engine.model import ChairState, InductionRule, NurseState, Proposal, SiteSnapshot
from scheduling.engine.placement import EARLIEST, LEVEL, Placement, Placer, propose_additional_placed

NY = ZoneInfo("America/New_York")
SATURDAY, SPRING = dt.date(2026, 3, 7), dt.date(2026, 3, 8)
RULE = InductionRule(session_length=dt.timedelta(minutes=90), min_gap=dt.timedelta(days=1), route="iv", sessions=1)


def _site() -> SiteSnapshot:
    days = [SATURDAY + dt.timedelta(days=n) for n in range(3)]
    shifts = tuple(
        Span(dt.datetime.combine(d, dt.time(7), tzinfo=NY), dt.datetime.combine(d, dt.time(19), tzinfo=NY))
        for d in days
    )
    return SiteSnapshot(
        id=1,
        name="Spring",
        zone=NY,
        opening={weekday: (dt.time(8), dt.time(18)) for weekday in range(7)},
        closures=(),
        chairs=(ChairState(1, "Chair 1", frozenset({"iv"})),),
        nurses=(NurseState(1, "N1", shifts),),
        max_patients_per_nurse=3,
        step_minutes=15,
        setups_per_nurse=1,
    )


@pytest.mark.parametrize("zone", [NY, dt.UTC], ids=["given-in-the-sites-zone", "given-in-utc"])
@pytest.mark.parametrize("policy", [EARLIEST, LEVEL])
def test_the_first_session_of_a_reflow_keeps_a_real_day_after_the_last_infusion(policy, zone):
    last = dt.datetime.combine(SATURDAY, dt.time(10), tzinfo=NY).astimezone(zone)
    placer = Placer(Availability(_site()), Placement(policy=policy))
    found = propose_additional_placed(placer, RULE, 1, SPRING, SPRING, Preferences(), last, None)
    assert isinstance(found, Proposal), found
    (slot,) = found.slots
    assert slot.start - last >= RULE.min_gap, f"{slot.start.astimezone(NY):%a %H:%M %Z}, {slot.start - last} after"
    assert slot.start.astimezone(NY).time() == dt.time(11)  # the first start a real day after 10:00 EST


def test_the_earliest_reflow_keeps_a_real_day_after_the_last_infusion():
    last = dt.datetime.combine(SATURDAY, dt.time(10), tzinfo=NY)
    found = propose_additional(Availability(_site()), RULE, 1, SPRING, SPRING, Preferences(), last, None)
    assert isinstance(found, Proposal) and found.slots[0].start - last >= RULE.min_gap
