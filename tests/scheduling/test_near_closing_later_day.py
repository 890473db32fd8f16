"""A session whose allowed days have room only near closing (the last 45 minutes before it) takes
a later day with a time ending well before closing, under level, when its rules still hold from
there: a session ending at 18:00 runs over with any lateness or wait for a nurse (issue 17's
overtime). Earliest keeps the late time."""

from __future__ import annotations

import datetime as dt

from scheduling.engine import Availability, InductionRule, Preferences
from scheduling.engine.model import Proposal
from scheduling.engine.placement import (
    EARLIEST,
    LEVEL,
    Placement,
    Placer,
    propose_additional_placed,
    propose_induction_placed,
)
from tests.scheduling.test_placement import MINUTE, SESSION, TUESDAY, ZONE, at, booked, site

MONDAY = TUESDAY - dt.timedelta(days=1)
WEDNESDAY = TUESDAY + dt.timedelta(days=1)
THURSDAY = TUESDAY + dt.timedelta(days=2)
FRIDAY = TUESDAY + dt.timedelta(days=3)
GAP = 48 * 60 * MINUTE


def _free_only_from_16(*days: dt.date) -> dict[int, list]:
    # Both chairs busy 08:00-16:00 on each of `days`: the one free time ends at 18:00, closing.
    return {chair: [booked(day, "08:00", 480) for day in days] for chair in (1, 2)}


def _days(proposal: Proposal) -> list[str]:
    return [slot.start.astimezone(ZONE).strftime("%a %-d %H:%M") for slot in proposal.slots]


def _course(policy: str, snapshot, rule: InductionRule, start_day: dt.date) -> Proposal:
    proposal = propose_induction_placed(
        Placer(Availability(snapshot), Placement(policy=policy)), rule, start_day, Preferences()
    )
    assert isinstance(proposal, Proposal)
    return proposal


def _reflow(policy: str, snapshot, rule: InductionRule, count: int, last_day: dt.date, **keeps) -> Proposal:
    proposal = propose_additional_placed(
        Placer(Availability(snapshot), Placement(policy=policy)),
        rule,
        count,
        TUESDAY,
        last_day,
        Preferences(),
        after=None,
        not_before=at(TUESDAY, "07:00"),
        **keeps,
    )
    assert isinstance(proposal, Proposal)
    return proposal


def test_a_course_asked_for_a_friday_with_room_only_at_closing_starts_on_the_monday():
    # The first session may float a day (Saturday, closed); Friday's only time ends at 18:00.
    snapshot = site(chairs=_free_only_from_16(FRIDAY))
    rule = InductionRule(session_length=SESSION, min_gap=GAP, route="iv", sessions=3, window_days=9)
    assert _days(_course(EARLIEST, snapshot, rule, FRIDAY)) == ["Fri 6 16:00", "Mon 9 08:00", "Wed 11 08:00"]
    level = _course(LEVEL, snapshot, rule, FRIDAY)
    assert _days(level) == ["Mon 9 08:00", "Wed 11 08:00", "Fri 13 08:00"]
    assert "Fri 6 Mar has room only near closing" in level.reasons[0]
    (staff_note,) = [note for note in level.notes if note.startswith("Starts ")]
    assert staff_note.startswith("Starts Mon 9 Mar; ") and "room only near closing" in staff_note


def test_a_course_session_whose_allowed_days_have_room_only_at_closing_takes_a_later_day():
    # Wednesday (the earliest day for the second session) and Thursday (its day of slack) have
    # room only at 16:00; Friday is free, and the third session still fits in the 9 days after it.
    snapshot = site(chairs=_free_only_from_16(WEDNESDAY, THURSDAY))
    rule = InductionRule(session_length=SESSION, min_gap=GAP, route="iv", sessions=3, window_days=9)
    assert _days(_course(EARLIEST, snapshot, rule, MONDAY)) == ["Mon 2 08:00", "Wed 4 16:00", "Fri 6 16:00"]
    level = _course(LEVEL, snapshot, rule, MONDAY)
    assert _days(level) == ["Mon 2 08:00", "Fri 6 08:00", "Mon 9 08:00"]
    assert "Wed 4 Mar and Thu 5 Mar have room only near closing" in level.reasons[1]


def test_a_course_session_keeps_its_late_time_when_no_later_day_keeps_the_course_whole():
    # As above in a 7-day window: after a Friday session the third would fall past the window.
    snapshot = site(chairs=_free_only_from_16(WEDNESDAY, THURSDAY))
    rule = InductionRule(session_length=SESSION, min_gap=GAP, route="iv", sessions=3, window_days=7)
    assert _days(_course(LEVEL, snapshot, rule, MONDAY))[1].endswith("16:00")


def test_a_make_up_whose_first_day_has_room_only_at_closing_takes_the_next_day_with_room():
    snapshot = site(chairs=_free_only_from_16(TUESDAY))
    rule = InductionRule(session_length=SESSION, min_gap=GAP, route="iv", sessions=6, window_days=21)
    assert _days(_reflow(EARLIEST, snapshot, rule, 1, FRIDAY)) == ["Tue 3 16:00"]
    level = _reflow(LEVEL, snapshot, rule, 1, FRIDAY)
    assert _days(level) == ["Wed 4 08:00"]
    assert "Tue 3 Mar has room only near closing" in level.reasons[0]


def test_a_make_up_keeps_its_late_time_when_the_rest_of_the_re_flow_would_not_fit_after_a_later_day():
    # Two make-ups 48 hours apart by Thursday: Tuesday 16:00 and Thursday 16:00 is the only way.
    snapshot = site(chairs=_free_only_from_16(TUESDAY, THURSDAY))
    rule = InductionRule(session_length=SESSION, min_gap=GAP, route="iv", sessions=6, window_days=21)
    assert _days(_reflow(LEVEL, snapshot, rule, 2, THURSDAY)) == ["Tue 3 16:00", "Thu 5 16:00"]
    # With the window to Friday, the first moves to Wednesday and the second follows on Friday.
    assert _days(_reflow(LEVEL, snapshot, rule, 2, FRIDAY)) == ["Wed 4 08:00", "Fri 6 08:00"]


def test_a_make_up_keeps_its_late_time_when_the_window_has_no_other_day():
    snapshot = site(chairs=_free_only_from_16(TUESDAY, WEDNESDAY))
    rule = InductionRule(session_length=SESSION, min_gap=GAP, route="iv", sessions=6, window_days=21)
    level = _reflow(LEVEL, snapshot, rule, 1, WEDNESDAY)
    assert _days(level) == ["Tue 3 16:00"]
    assert "room only near closing" not in level.reasons[0]


def test_a_make_up_moves_only_where_the_rounds_weekly_pattern_still_holds():
    # The caller says whether the re-flow's days keep the round's span and weekly counts.
    snapshot = site(chairs=_free_only_from_16(TUESDAY))
    rule = InductionRule(session_length=SESSION, min_gap=GAP, route="iv", sessions=6, window_days=21)
    seen: list[list[dt.date]] = []

    def refuses(days: list[dt.date]) -> bool:
        seen.append(days)
        return False

    assert _days(_reflow(LEVEL, snapshot, rule, 1, FRIDAY, keeps_pattern=refuses)) == ["Tue 3 16:00"]
    assert seen and all(days[0] > TUESDAY for days in seen)  # asked of each later day tried
    assert _days(_reflow(LEVEL, snapshot, rule, 1, FRIDAY, keeps_pattern=lambda days: True)) == ["Wed 4 08:00"]


def test_a_make_up_looks_no_further_than_three_days_after_its_day():
    # Tuesday to Friday have room only at 16:00; Monday 9 is free but six days on.
    snapshot = site(chairs=_free_only_from_16(TUESDAY, WEDNESDAY, THURSDAY, FRIDAY))
    rule = InductionRule(session_length=SESSION, min_gap=GAP, route="iv", sessions=6, window_days=21)
    assert _days(_reflow(LEVEL, snapshot, rule, 1, TUESDAY + dt.timedelta(days=10))) == ["Tue 3 16:00"]


def test_a_day_with_a_start_ending_before_the_margin_is_not_said_to_have_room_only_near_closing():
    # Two nurses who may each set up two patients at once, both busy with hourly sessions from 08:00
    # to 16:00 on Wednesday and Thursday: the day's best time by the nurse's hands is near closing,
    # but starts ending well before closing exist, so the session stays within its allowed days.
    hourly = {
        n: [booked(day, f"{hour:02d}:00", 60) for day in (WEDNESDAY, THURSDAY) for hour in range(8, 16)] for n in (1, 2)
    }
    snapshot = site(chairs={c: [] for c in range(1, 9)}, nurse_booked=hourly, setups_per_nurse=2)
    rule = InductionRule(session_length=SESSION, min_gap=GAP, route="iv", sessions=3, window_days=9)
    level = _course(LEVEL, snapshot, rule, MONDAY)
    assert local_days(level)[1] in (WEDNESDAY, THURSDAY), _days(level)
    assert "room only near closing" not in level.reasons[1], _days(level)
    assert _ends(level)[1] > dt.time(17, 15), _days(level)  # the hands chose a late time on its day


def local_days(proposal: Proposal) -> list[dt.date]:
    return [slot.start.astimezone(ZONE).date() for slot in proposal.slots]


def _ends(proposal: Proposal) -> list[dt.time]:
    return [slot.end.astimezone(ZONE).time() for slot in proposal.slots]
