"""The free-slot search as the booking pages ask it (`Availability.day_slots`): one slot per free
start on a day, or why there is none."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from scheduling.engine import Availability, ChairState, DayProblem, NurseState, Preferences, SiteSnapshot, Span

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
    found = Availability(_site()).day_slots(DAY, 2 * HOUR, "iv")
    assert [s.start for s in found.slots] == [_at(8), _at(9), _at(10)]
    assert {s.chair_id for s in found.slots} == {1}
    assert found.reason == ""


def test_busy_chair_patient_and_past_starts_are_left_out():
    availability = Availability(_site(chair_busy=[Span(_at(8), _at(9))]), [Span(_at(11), _at(12))])
    found = availability.day_slots(DAY, HOUR, "iv", not_before=_at(9))
    assert [s.start for s in found.slots] == [_at(9), _at(10)]


def test_a_day_with_nothing_free_says_why():
    assert (
        Availability(_site()).day_slots(DAY + dt.timedelta(days=1), HOUR, "iv").reason.startswith("the site is closed")
    )
    full = _site(chair_busy=[Span(_at(8), _at(12))])
    assert Availability(full).day_slots(DAY, HOUR, "iv").reason == "the chair is booked"
    assert Availability(_site(nurse_shift=None)).day_slots(DAY, HOUR, "iv").reason == "no nurse is on shift"
    closed = _site(closures=[(Span(_at(8), _at(12)), "staff training")])
    assert Availability(closed).day_slots(DAY, HOUR, "iv").reason == "the site is closed (staff training)"
    assert "not equipped" in Availability(_site()).day_slots(DAY, HOUR, "iv", chair_ids=[2]).reason


def test_a_patient_busy_all_day_and_a_course_gap_each_say_so():
    busy = Availability(_site(), [Span(_at(7), _at(13))])
    assert busy.day_slots(DAY, HOUR, "iv").reason == "the patient already has a session then"
    first = Availability(_site()).first_slot(DAY, HOUR, "iv", Preferences(), not_before=_at(12))
    assert isinstance(first, DayProblem) and first.reason == "too soon after the previous session"


def test_a_full_nurse_is_named_as_the_reason():
    site = _site(max_per_nurse=1)
    site = dataclasses.replace(site, nurses=(dataclasses.replace(site.nurses[0], booked=(Span(_at(8), _at(12)),)),))
    assert Availability(site).day_slots(DAY, HOUR, "iv").reason == "every nurse on shift already has 1 patient"


def test_the_booking_pages_get_the_first_free_chair_of_each_start_from_the_same_search_as_the_api():
    availability = Availability(_site(chair_busy=[Span(_at(8), _at(9))]))
    every = list(availability.free_slots(DAY, HOUR, "iv"))
    per_start = availability.day_slots(DAY, HOUR, "iv").slots
    assert list(per_start) == [s for i, s in enumerate(every) if i == 0 or every[i - 1].start != s.start]
