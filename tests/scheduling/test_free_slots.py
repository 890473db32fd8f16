"""The free-slot finder's pure part: every free start on a day, or why none."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from scheduling.engine import Availability, ChairState, NurseState, SiteSnapshot, Span
from scheduling.engine.free_slots import free_slots_on

NY = ZoneInfo("America/New_York")
DAY = dt.date(2026, 3, 3)  # a Tuesday
HOUR = dt.timedelta(hours=1)


def _at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute), tzinfo=NY).astimezone(dt.UTC)


def _site(*, chair_busy=(), nurse_shift="all day", closures=(), max_per_nurse=3) -> SiteSnapshot:
    if nurse_shift == "all day":
        nurse_shift = (_at(8), _at(18))
    return SiteSnapshot(
        id=1,
        name="Test",
        zone=NY,
        opening={1: (dt.time(8), dt.time(12))},
        closures=tuple(closures),
        chairs=(
            ChairState(id=1, name="Chair 1", routes=frozenset({"iv"}), busy=tuple(chair_busy)),
            ChairState(id=2, name="Chair 2", routes=frozenset({"intranasal"})),
        ),
        nurses=(NurseState(id=7, name="N", shifts=(Span(*nurse_shift),)),) if nurse_shift else (),
        max_patients_per_nurse=max_per_nurse,
        step_minutes=60,
    )


def test_every_free_start_on_the_grid_is_listed_with_a_chair_equipped_for_the_route():
    found = free_slots_on(Availability(_site()), DAY, 2 * HOUR, "iv")
    assert [s.start for s in found.slots] == [_at(8), _at(9), _at(10)]
    assert {s.chair_id for s in found.slots} == {1}
    assert found.reason == ""


def test_busy_chair_patient_and_past_starts_are_left_out():
    availability = Availability(_site(chair_busy=[Span(_at(8), _at(9))]), [Span(_at(11), _at(12))])
    found = free_slots_on(availability, DAY, HOUR, "iv", not_before=_at(9))
    assert [s.start for s in found.slots] == [_at(9), _at(10)]


def test_a_day_with_nothing_free_says_why():
    assert free_slots_on(Availability(_site()), DAY + dt.timedelta(days=1), HOUR, "iv").reason.startswith(
        "the site is closed"
    )
    full = _site(chair_busy=[Span(_at(8), _at(12))])
    assert free_slots_on(Availability(full), DAY, HOUR, "iv").reason == "the chair is booked"
    assert free_slots_on(Availability(_site(nurse_shift=None)), DAY, HOUR, "iv").reason == "no nurse is on shift"
    closed = _site(closures=[(Span(_at(8), _at(12)), "staff training")])
    assert free_slots_on(Availability(closed), DAY, HOUR, "iv").reason == "the site is closed (staff training)"
    assert "not equipped" in free_slots_on(Availability(_site()), DAY, HOUR, "iv", chair_ids=[2]).reason
