"""Level placement measures a day by the chair time it really has: the opening hours without the
site's closures and each chair's out-of-use periods. The quietest day, the closing time and the
chair gaps all follow from it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from scheduling.engine import Availability, InductionRule, Preferences, Span
from scheduling.engine.placement import LEVEL, Placement, Placer, propose_induction_placed
from tests.scheduling.test_placement import (
    EVERY_CHAIR_SESSION,
    MINUTE,
    SESSION,
    TUESDAY,
    ZONE,
    at,
    booked,
    choose,
    site,
)

MONDAY = TUESDAY - dt.timedelta(days=1)
WEDNESDAY = TUESDAY + dt.timedelta(days=1)
THURSDAY = TUESDAY + dt.timedelta(days=2)
# Three sessions at least 48 hours apart within nine days: the second may take Wednesday or Thursday.
COURSE = InductionRule(session_length=SESSION, min_gap=48 * 60 * MINUTE, route="iv", sessions=3, window_days=9)


def _whole_day(day: dt.date) -> Span:
    return Span(at(day, "00:00"), at(day + dt.timedelta(days=1), "00:00"))


def _level(snapshot) -> Placer:
    return Placer(Availability(snapshot), Placement(policy=LEVEL))


def _days(proposal) -> list[str]:
    return [slot.start.astimezone(ZONE).strftime("%a %-d") for slot in proposal.slots]


def test_a_course_does_not_take_a_day_with_chairs_out_of_use_as_the_quietest():
    # Three chairs, open 08:00-18:00. Wednesday: chairs 2 and 3 out of use all day (pumps away for
    # service), chair 1 booked 10:00-16:00: 6 of the 10 usable chair hours, 60 % full. Thursday: chairs
    # 1 and 2 booked 10:00-14:00: 8 of 30 chair hours, 27 %. Measured against all three chairs,
    # Wednesday read 20 % and took the course's second session.
    chairs = {
        1: [booked(WEDNESDAY, "10:00", 360), booked(THURSDAY, "10:00", 240)],
        2: [booked(THURSDAY, "10:00", 240)],
        3: [],
    }
    snapshot = site(chairs=chairs)
    snapshot = replace(
        snapshot,
        chairs=tuple(
            replace(chair, out_of_use=((_whole_day(WEDNESDAY), "Pump at service"),)) if chair.id in (2, 3) else chair
            for chair in snapshot.chairs
        ),
    )
    placer = _level(snapshot)
    assert placer.load(WEDNESDAY).booked_share == 600
    assert placer.load(THURSDAY).booked_share == 266

    level = propose_induction_placed(placer, COURSE, MONDAY, Preferences())

    assert _days(level)[1] == "Thu 5", (_days(level), level.reasons[1])
    assert "the quietest allowed day (27% of chair time booked)" in level.reasons[1]


def test_a_course_does_not_take_a_day_closed_half_the_afternoon_as_the_quietest():
    # Three chairs, open 08:00-18:00. Wednesday: the site closes at 13:00 (a closure 13:00-18:00, staff
    # training), chairs 1 and 2 booked 10:00-12:00: 4 of its 15 open chair hours, 27 %. Thursday: the
    # three chairs booked 10:00-12:00: 6 of 30, 20 %. Measured against the full day's 30 chair hours,
    # Wednesday read 13 % and took the second session.
    chairs = {
        1: [booked(WEDNESDAY, "10:00"), booked(THURSDAY, "10:00")],
        2: [booked(WEDNESDAY, "10:00"), booked(THURSDAY, "10:00")],
        3: [booked(THURSDAY, "10:00")],
    }
    snapshot = replace(
        site(chairs=chairs), closures=((Span(at(WEDNESDAY, "13:00"), at(WEDNESDAY, "18:00")), "Staff training"),)
    )

    level = propose_induction_placed(_level(snapshot), COURSE, MONDAY, Preferences())

    assert _days(level)[1] == "Thu 5", (_days(level), level.reasons[1])
    assert "the quietest allowed day (20% of chair time booked)" in level.reasons[1]


def test_a_day_closed_all_day_counts_as_full_not_as_empty():
    snapshot = replace(site(), closures=((_whole_day(WEDNESDAY), "Public holiday"),))
    placer = _level(snapshot)
    assert placer.load(WEDNESDAY).booked_share == 1000
    assert placer.load(THURSDAY).booked_share == 0


def test_a_closure_up_to_closing_time_is_the_days_closing_for_the_closing_margin():
    # Tuesday the site closes at 16:00 (a closure 16:00-18:00). The day template asks for 13:30 in
    # chair 1, which ends at 15:30, inside the last 45 minutes before the real closing: level keeps
    # clear of it while an earlier time is free, as it does before an 18:00 closing.
    snapshot = replace(site(), closures=((Span(at(TUESDAY, "16:00"), at(TUESDAY, "18:00")), "Staff meeting"),))
    level, why = choose(snapshot, LEVEL, preferred_starts={1: frozenset({dt.time(13, 30)})})
    assert level.start == at(TUESDAY, "08:00"), why
    assert "ends well before closing" in why


def test_a_gap_left_before_a_chair_goes_out_of_use_counts_as_too_short():
    # Chair 1 goes out of use at 11:00 (a pump fault) for the rest of Tuesday; chair 2 is in use all
    # day. A two-hour session at 08:00 in chair 1 leaves 10:00-11:00, too short for any session; in
    # chair 2 it leaves the afternoon whole. Level takes chair 2, as it would before closing.
    snapshot = site()
    snapshot = replace(
        snapshot,
        chairs=tuple(
            replace(chair, out_of_use=((Span(at(TUESDAY, "11:00"), at(WEDNESDAY, "00:00")), "Pump fault"),))
            if chair.id == 1
            else chair
            for chair in snapshot.chairs
        ),
    )
    level, why = choose(snapshot, LEVEL, shortest_sessions=EVERY_CHAIR_SESSION)
    assert (level.start, level.chair_id) == (at(TUESDAY, "08:00"), 2), why
    assert "leaves no gap in Chair 2 too short to use" in why


def test_a_site_closure_ends_the_chair_gap_before_it_and_begins_the_one_after_it():
    # A fire drill closes the site 11:00-12:00 on Tuesday: a gap in a chair runs to the closure, as to
    # closing, and from it, as from opening; never across it.
    closure = Span(at(TUESDAY, "11:00"), at(TUESDAY, "12:00"))
    snapshot = replace(site(), closures=((closure, "Fire drill"),))
    placer = _level(snapshot)
    load = placer.load(TUESDAY)
    # A session 08:00-10:00 leaves 10:00-11:00 before the closure: a gap of one hour.
    assert load.gaps_beside(1, at(TUESDAY, "08:00"), at(TUESDAY, "10:00"), SESSION) == 1
    # 08:00-11:00 fills the morning up to the closure: no gap.
    assert load.gaps_beside(1, at(TUESDAY, "08:00"), at(TUESDAY, "11:00"), SESSION) == 0
    # After the closure: 12:00 begins with the open span, so 12:00-14:00 leaves nothing before it.
    assert load.gaps_beside(1, at(TUESDAY, "12:00"), at(TUESDAY, "14:00"), SESSION) == 0
    # 12:30 leaves 12:00-12:30, too short, after the closure.
    assert load.gaps_beside(1, at(TUESDAY, "12:30"), at(TUESDAY, "14:30"), SESSION) == 1
