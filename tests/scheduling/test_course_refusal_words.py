"""The words of a course refused, at the engine: a day outside the year of the caller's `now` carries
its year, a closed day says it is closed (not that it is too soon after the session before), a count
of one session is one session, and the nearest alternatives are each a different course."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from scheduling.engine import (
    Availability,
    ChairState,
    DayProblem,
    InductionRule,
    NoFit,
    NurseState,
    Preferences,
    Proposal,
    SiteSnapshot,
    Slot,
    Span,
    find_alternatives,
    propose_induction,
)
from scheduling.engine.model import day_label

NY = ZoneInfo("America/New_York")
HOUR = dt.timedelta(hours=1)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY).astimezone(dt.UTC)


def _site(first: dt.date, days: int, closures=()) -> SiteSnapshot:
    """Open Monday to Friday 08:00-18:00, one chair, one nurse on shift every day from `first`."""
    shifts = tuple(
        Span(_at(first + dt.timedelta(days=offset), 7), _at(first + dt.timedelta(days=offset), 19))
        for offset in range(days)
    )
    return SiteSnapshot(
        id=1,
        name="Test",
        zone=NY,
        opening={weekday: (dt.time(8), dt.time(18)) for weekday in range(5)},
        closures=tuple(closures),
        chairs=(ChairState(id=1, name="Chair 1", routes=frozenset({"iv"})),),
        nurses=(NurseState(id=7, name="N", shifts=shifts),),
        step_minutes=60,
    )


def _closed(first: dt.date, last: dt.date, reason: str) -> tuple[Span, str]:
    """The site closed from the start of `first` to the end of `last` (local days)."""
    return Span(_at(first, 0), _at(last + dt.timedelta(days=1), 0)), reason


def test_a_closed_day_says_closed_even_when_its_first_starts_are_too_soon_after_the_session_before():
    """Fri 18 Dec 2026 is closed (the winter break); the session before was on Wed 16 Dec at 16:00, so
    with 48 hours between sessions its starts before 16:00 are too soon as well. The site is closed
    that day whatever the spacing: the day's reason is the closure."""
    friday = dt.date(2026, 12, 18)
    availability = Availability(_site(friday, 1, [_closed(friday, dt.date(2027, 1, 3), "Winter break")]))
    found = availability.first_slot(friday, 2 * HOUR, "iv", Preferences(), not_before=_at(friday, 16))
    assert isinstance(found, DayProblem)
    assert found.reason == "the site is closed (Winter break)"


def test_a_day_partly_closed_and_partly_too_soon_is_still_too_soon():
    """Only the afternoon closed, the morning too soon: the day is not closed, the spacing stops it."""
    day = dt.date(2026, 12, 16)
    afternoon = (Span(_at(day, 13), _at(day, 18)), "Staff training")
    availability = Availability(_site(day, 1, [afternoon]))
    found = availability.first_slot(day, 2 * HOUR, "iv", Preferences(), not_before=_at(day, 13))
    assert isinstance(found, DayProblem) and found.reason == "too soon after the previous session"


def test_a_day_outside_this_year_is_written_with_its_year_and_a_day_of_this_year_without():
    assert day_label(dt.date(2027, 1, 4), 2026) == "Mon 4 Jan 2027"
    assert day_label(dt.date(2026, 12, 28), 2026) == "Mon 28 Dec"
    assert day_label(dt.date(2025, 12, 29), 2026) == "Mon 29 Dec 2025"
    problem = DayProblem(dt.date(2027, 1, 1), "the site is closed (Winter break)")
    assert problem.describe(2026) == "Fri 1 Jan 2027: the site is closed (Winter break)"
    assert problem.describe(2027) == "Fri 1 Jan: the site is closed (Winter break)"


def test_a_refusal_across_new_year_writes_next_years_days_with_their_year():
    """Asked on Mon 14 Dec 2026 for a course from Mon 28 Dec, the site closed until Sun 3 Jan 2027: no
    first session in the seven days from the day asked, each day said with its year when it is 2027's."""
    monday = dt.date(2026, 12, 28)
    site = _site(dt.date(2026, 12, 14), 60, [_closed(dt.date(2026, 12, 21), dt.date(2027, 1, 3), "Winter break")])
    rule = InductionRule(session_length=2 * HOUR, min_gap=48 * HOUR, route="iv", sessions=6, window_days=21)
    outcome = propose_induction(
        Availability(site), rule, monday, Preferences(), not_before=_at(dt.date(2026, 12, 14), 9)
    )
    assert isinstance(outcome, NoFit)
    assert outcome.reason == "No first session could be placed in the 7 days from Mon 28 Dec."
    words = outcome.explain(limit=7, this_year=2026)
    assert "Mon 28 Dec: the site is closed (Winter break)" in words
    assert "Thu 31 Dec: the site is closed (Winter break)" in words
    assert "Fri 1 Jan 2027: the site is closed (Winter break)" in words
    assert "Sun 3 Jan 2027: the site is closed on Sundays" in words
    assert "Dec 2026" not in words


def test_the_window_of_a_course_starting_next_year_is_written_with_its_year():
    """Asked in December 2026 for a course from Mon 4 Jan 2027 that cannot fit (a second closure from
    Mon 11 Jan): the reason names its first day with its year."""
    site = _site(
        dt.date(2026, 12, 14),
        60,
        [_closed(dt.date(2027, 1, 11), dt.date(2027, 2, 28), "Refurbishment")],
    )
    rule = InductionRule(session_length=2 * HOUR, min_gap=48 * HOUR, route="iv", sessions=6, window_days=21)
    outcome = propose_induction(
        Availability(site), rule, dt.date(2027, 1, 4), Preferences(), not_before=_at(dt.date(2026, 12, 14), 9)
    )
    assert isinstance(outcome, NoFit)
    assert outcome.reason.startswith("Only 3 of 6 sessions fit within 21 days from Mon 4 Jan 2027 ")


def test_a_week_short_of_one_session_says_one_session():
    """3-2-1-1-1 from Mon 7 Dec 2026, the site closed from the third week to Sun 3 Jan: week 3 needs 1
    session (and every later first day fails too, within its own weeks)."""
    monday = dt.date(2026, 12, 7)
    site = _site(monday, 60, [_closed(dt.date(2026, 12, 21), dt.date(2027, 1, 3), "Winter break")])
    rule = InductionRule(session_length=2 * HOUR, min_gap=24 * HOUR, route="iv", weekly_counts=(3, 2, 1, 1, 1))
    outcome = propose_induction(Availability(site), rule, monday, Preferences(), not_before=_at(monday, 7))
    assert isinstance(outcome, NoFit)
    assert outcome.reason == (
        "Week 3 of the induction (Mon 21 Dec – Sun 27 Dec) needs 1 session at least 24 hours apart; only 0 fit."
    )
    assert "1 sessions" not in outcome.reason


def _course(*days: dt.date) -> Proposal:
    return Proposal(slots=[Slot(_at(day, 8), _at(day, 10), 1, 7) for day in days])


def test_alternatives_that_are_the_same_course_are_offered_once_and_the_limit_is_filled_with_others():
    """Three later starts inside a closure all come to the course that starts the day it ends: it is
    offered once, under the nearest attempt, and the next two different courses fill the limit."""
    jan = [dt.date(2027, 1, day) for day in range(4, 12)]
    same = _course(jan[0], jan[2], jan[4])
    attempts = [
        ("Start Tue 29 Dec", lambda: _course(jan[0], jan[2], jan[4])),
        ("Start Wed 30 Dec", lambda: _course(jan[0], jan[2], jan[4])),
        ("Start Thu 31 Dec", lambda: _course(jan[0], jan[2], jan[4])),
        ("Start Fri 1 Jan", lambda: NoFit(reason="no", placed=0, needed=3)),
        ("Start Tue 5 Jan", lambda: _course(jan[1], jan[3], jan[7])),
        ("Start Wed 6 Jan", lambda: _course(jan[2], jan[4], jan[7])),
        ("Start Thu 7 Jan", lambda: _course(jan[3], jan[7], jan[7] + dt.timedelta(days=2))),
    ]
    found = find_alternatives(attempts, limit=3)
    assert [alternative.label for alternative in found] == ["Start Tue 29 Dec", "Start Tue 5 Jan", "Start Wed 6 Jan"]
    assert found[0].proposal.slots == same.slots
    assert len({tuple(alternative.proposal.slots) for alternative in found}) == 3


def test_alternatives_are_named_by_what_they_are_and_a_name_is_offered_once():
    """`label` names an alternative by its course (here the day it starts): two attempts that come to
    courses named alike are one offer, the nearest's, as the desk could not tell them apart."""
    jan = [dt.date(2027, 1, day) for day in range(4, 12)]
    attempts = [
        ("Start Tue 29 Dec", lambda: _course(jan[0], jan[2], jan[4])),
        ("Start Wed 30 Dec", lambda: Proposal(slots=[Slot(_at(jan[0], 9), _at(jan[0], 11), 1, 7)])),
        ("Start Tue 5 Jan", lambda: _course(jan[1], jan[3], jan[7])),
    ]

    def by_first_day(asked: str, course: Proposal) -> str:
        return f"Start {day_label(course.slots[0].start.astimezone(NY).date(), 2026)}"

    found = find_alternatives(attempts, limit=3, label=by_first_day)
    assert [alternative.label for alternative in found] == ["Start Mon 4 Jan 2027", "Start Tue 5 Jan 2027"]
    assert [alternative.asked_as for alternative in found] == ["Start Tue 29 Dec", "Start Tue 5 Jan"]
