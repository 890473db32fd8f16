"""Course planning: induction by window or by weekly counts, maintenance at
the plan's interval, and the nearest alternatives when nothing fits.

Greedy earliest placement is optimal here: every rule ("at least G hours
after the previous session", "a later day", "inside the window") only gets
harder the later a session sits, so if any complete course exists from a
given first session, the one that takes each session's earliest free slot
exists too. We therefore only vary the first session's day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from scheduling.engine.availability import Availability
from scheduling.engine.model import DayProblem, InductionRule, NoFit, Preferences, Proposal, Slot, day_label
from scheduling.engine.wallclock import local_day

# availability.first_slot's shape: (day, duration, route, prefs, not_before) -> Slot | DayProblem.
FirstSlot = Callable[[dt.date, dt.timedelta, str, Preferences, dt.datetime | None], Slot | DayProblem]

# How many days after the requested start the first session may float.
FIRST_SESSION_SEARCH_DAYS = 7


def sessions_text(count: int, kind: str = "") -> str:
    """A count of sessions in words: "1 session", "6 sessions", "1 remaining session"."""
    noun = "session" if count == 1 else "sessions"
    return f"{count} {kind} {noun}" if kind else f"{count} {noun}"


def texts_year(not_before: dt.datetime | None, zone: ZoneInfo, this_year: int | None = None) -> int | None:
    """The year the texts of a search from `not_before` are read in: a day of another year is written
    with its year (day_label). It is `this_year` when the caller gives it: one whose `not_before` is
    later than its now (a protocol's gap after the last infusion) gives the year of its now, the year
    the page around the texts is read in. Otherwise the year of `not_before` (the caller's now)."""
    if this_year is not None:
        return this_year
    return local_day(not_before, zone).year if not_before is not None else None


def starts_note(first_day: dt.date, why: str, this_year: int | None) -> str:
    """The note of a course that starts later than the day asked for: the day it starts (with its year
    when outside `this_year`), and why (when there is a why to say)."""
    return f"Starts {day_label(first_day, this_year)}; {why}" if why else f"Starts {day_label(first_day, this_year)}"


def propose_induction(
    availability: Availability,
    rule: InductionRule,
    start_day: dt.date,
    prefs: Preferences,
    not_before: dt.datetime | None = None,
    first_slot: FirstSlot | None = None,
    *,
    this_year: int | None = None,
) -> Proposal | NoFit:
    """Every induction session, or a NoFit saying which rule and which days stopped it.
    `first_slot` stands in for `availability.first_slot` (a caller that caches it). The texts write a
    day outside `this_year` (the year of the caller's now; by default the year of `not_before`) with
    its year."""
    zone = availability.site.zone
    this_year = texts_year(not_before, zone, this_year)
    pick = first_slot or availability.first_slot
    first_failure: NoFit | None = None
    early_problems: list[DayProblem] = []
    for offset in range(FIRST_SESSION_SEARCH_DAYS):
        day = start_day + dt.timedelta(days=offset)
        first = pick(day, rule.session_length, rule.route, prefs, not_before)
        if isinstance(first, DayProblem):
            early_problems.append(first)
            continue
        outcome = complete_induction(availability, rule, [first], prefs, pick, this_year=this_year)
        if isinstance(outcome, Proposal):
            if offset:
                # Say why the course does not start on the day asked for.
                why = (
                    early_problems[0].describe(this_year)
                    if early_problems
                    else f"a course starting on {day_label(start_day, this_year)} does not fit"
                )
                outcome.late_start = why
                outcome.notes.append(starts_note(local_day(first.start, zone), why, this_year))
            return outcome
        first_failure = first_failure or outcome
    if first_failure is not None:
        return first_failure
    return NoFit(
        reason=(
            f"No first session could be placed in the {FIRST_SESSION_SEARCH_DAYS} days "
            f"from {day_label(start_day, this_year)}."
        ),
        placed=0,
        needed=rule.total_sessions,
        problems=early_problems,
    )


def complete_induction(
    availability: Availability,
    rule: InductionRule,
    placed: Sequence[Slot],
    prefs: Preferences,
    first_slot: FirstSlot | None = None,
    *,
    this_year: int | None = None,
) -> Proposal | NoFit:
    """The course that keeps `placed` (its first sessions, in order) and takes the earliest
    free slot for every other session, or why it does not fit (a day outside `this_year` with its year)."""
    zone = availability.site.zone
    pick = first_slot or availability.first_slot
    first_day = local_day(placed[0].start, zone)
    slots = list(placed)
    problems: list[DayProblem] = []
    if rule.weekly_counts:
        weeks = [(week, count) for week, count in enumerate(rule.weekly_counts)]
    else:
        weeks = [(0, rule.total_sessions)]
    week_length = 7 if rule.weekly_counts else rule.span_days
    for week, count in weeks:
        week_start = first_day + dt.timedelta(days=week * week_length)
        week_end = week_start + dt.timedelta(days=week_length - 1)
        in_week = sum(1 for slot in slots if week_start <= local_day(slot.start, zone) <= week_end)
        day = max(week_start, local_day(slots[-1].start, zone) + dt.timedelta(days=1))
        while in_week < count and day <= week_end:
            not_before = slots[-1].start + rule.min_gap
            found = pick(day, rule.session_length, rule.route, prefs, not_before)
            if isinstance(found, Slot):
                slots.append(found)
                in_week += 1
            else:
                problems.append(found)
            day += dt.timedelta(days=1)
        if in_week < count:
            if rule.weekly_counts:
                reason = (
                    f"Week {week + 1} of the induction ({day_label(week_start, this_year)} – "
                    f"{day_label(week_end, this_year)}) needs {sessions_text(count)} "
                    f"at least {_hours(rule.min_gap)} apart; only {in_week} fit."
                )
            else:
                reason = (
                    f"Only {len(slots)} of {sessions_text(rule.total_sessions)} fit within {rule.span_days} days "
                    f"from {day_label(first_day, this_year)} (one a day, at least {_hours(rule.min_gap)} apart)."
                )
            return NoFit(reason=reason, placed=len(slots), needed=rule.total_sessions, problems=problems)
    return Proposal(slots=slots)


def _hours(gap: dt.timedelta) -> str:
    hours = int(gap.total_seconds() // 3600)
    return f"{hours} hours"


@dataclass(frozen=True)
class MaintenanceRule:
    session_length: dt.timedelta
    route: str
    interval_days: int
    min_days: int
    max_days: int
    # How far from the exact interval a session may move to find a free chair.
    tolerance_days: int = 3


def maintenance_target(anchor: dt.date, rule: MaintenanceRule, today: dt.date | None) -> tuple[dt.date, bool]:
    """The day the next maintenance session aims for, `interval_days` after `anchor`, and whether it
    is overdue. A session whose date has passed is not a problem to report: the patient is due now,
    so the session goes on the next day (a day's notice), never on a day gone by."""
    target = anchor + dt.timedelta(days=rule.interval_days)
    if today is not None and target <= today:
        return today + dt.timedelta(days=1), True
    return target, False


def first_maintenance_day(today: dt.date | None, first_day: dt.date | None) -> dt.date | None:
    """The first day a maintenance session may be laid out on: never today or before (a day's
    notice, as for an overdue one), and never before `first_day` (the day a paused plan resumes)."""
    floors = [day for day in (today + dt.timedelta(days=1) if today else None, first_day) if day is not None]
    return max(floors) if floors else None


def propose_maintenance(
    availability: Availability,
    rule: MaintenanceRule,
    previous_start: dt.datetime,
    until: dt.date,
    prefs: Preferences,
    not_before: dt.datetime | None = None,
    *,
    claim: bool = True,
    first_day: dt.date | None = None,
    first_within: tuple[dt.date | None, dt.date | None] = (None, None),
) -> tuple[list[Slot], list[DayProblem]]:
    """Sessions every `interval_days` after `previous_start` up to `until`, each as close to the
    interval as a free chair allows and always `min_days`..`max_days` after the session before
    it. A session with no free day in that range comes back as a problem and ends the layout:
    any later session would break the maximum spacing from the last one. Without `claim`, the
    sessions found are not claimed (a look ahead: each is on a later day than the one before, so
    none is in another's way). `first_within` (earliest and latest day, either open) keeps the first
    session on those days when one of them has room: an interval made shorter does not move the
    next session later, nor a longer one earlier."""
    zone = availability.site.zone
    slots: list[Slot] = []
    problems: list[DayProblem] = []
    anchor = local_day(previous_start, zone)
    today = local_day(not_before, zone) if not_before is not None else None
    floor = first_maintenance_day(today, first_day)
    while True:
        target, overdue = maintenance_target(anchor, rule, today)
        if target > until:
            break
        placed: Slot | None = None
        tried: list[DayProblem] = []
        days = []
        for shift in _nearest_first(rule.tolerance_days):
            day = target + dt.timedelta(days=shift)
            gap_days = (day - anchor).days
            if floor is not None and day < floor:
                continue
            if not (overdue or rule.min_days <= gap_days <= rule.max_days) or day > until:
                continue
            days.append(day)
        if not slots:
            days = within_first(days, first_within)
        for day in days:
            found = availability.first_slot(day, rule.session_length, rule.route, prefs, not_before)
            if isinstance(found, Slot):
                placed = found
                break
            tried.append(found)
        if placed is None and not slots and first_within != (None, None):
            # No room on the days the change points to: the nearest day the interval allows, as before.
            return propose_maintenance(
                availability, rule, previous_start, until, prefs, not_before, claim=claim, first_day=first_day
            )
        if placed is None:
            # Every later session would be more than max_days after the last one held: none is laid
            # out past the gap (the plan is flagged for a clinician), rather than one that breaks it.
            problems.append(maintenance_gap(rule, target))
            break
        if claim:
            availability.claim(placed)
        slots.append(placed)
        anchor = local_day(placed.start, zone)
    return slots, problems


def within_first(days: list[dt.date], first_within: tuple[dt.date | None, dt.date | None]) -> list[dt.date]:
    """Of the `days` a maintenance session may take, those inside `first_within` (earliest and
    latest, either open), in the same order; all of them when none is inside."""
    low, high = first_within
    inside = [day for day in days if (low is None or day >= low) and (high is None or day <= high)]
    return inside or days


def maintenance_gap(rule: MaintenanceRule, target: dt.date) -> DayProblem:
    """The problem of a maintenance session with no free day inside its spacing."""
    return DayProblem(
        target,
        f"no maintenance session within {rule.tolerance_days} days of the interval "
        f"(at most {rule.max_days} days after the previous one); the sessions after it are not laid out",
    )


def _nearest_first(tolerance: int) -> list[int]:
    order = [0]
    for distance in range(1, tolerance + 1):
        order += [distance, -distance]
    return order


def remaining_weekly_counts(weekly_counts: Sequence[int], sessions_held: int) -> tuple[int, ...]:
    """The rest of a weekly induction pattern after `sessions_held` sessions, in its own shape:
    3-2-1-1-1 with two held leaves 1-2-1-1-1 (finish week 1, then week 2, then the weekly tail)."""
    remaining = list(weekly_counts)
    to_drop = sessions_held
    for week, count in enumerate(remaining):
        taken = min(count, to_drop)
        remaining[week] -= taken
        to_drop -= taken
    return tuple(count for count in remaining if count)


@dataclass
class Alternative:
    label: str
    proposal: Proposal
    # The label of the attempt that found it (`label` may name it otherwise, by what it is).
    asked_as: str = ""


def find_alternatives(
    attempts: Sequence[tuple[str, Callable[[], Proposal | NoFit]]],
    limit: int = 3,
    label: Callable[[str, Proposal], str] | None = None,
) -> list[Alternative]:
    """Run labelled re-plans (a later start, another site, other times) nearest first and keep the
    first `limit` different courses that fit. `label` (an attempt's label and its course) names an
    alternative by what it is, the day its course really starts, say. Attempts that come to the same
    sessions are one alternative, the nearest's: later starts inside a closure all come to the course
    that starts when it ends. So are alternatives named alike, which the desk could not tell apart
    (it proposes an alternative again from its name's day and site)."""
    found: list[Alternative] = []
    courses: set[tuple[Slot, ...]] = set()
    for asked_as, attempt in attempts:
        outcome = attempt()
        if not isinstance(outcome, Proposal):
            continue
        course = tuple(outcome.slots)
        name = label(asked_as, outcome) if label is not None else asked_as
        if course in courses or any(alternative.label == name for alternative in found):
            continue
        courses.add(course)
        found.append(Alternative(name, outcome, asked_as))
        if len(found) >= limit:
            break
    return found


def propose_additional(
    availability: Availability,
    rule: InductionRule,
    count: int,
    first_day: dt.date,
    last_day: dt.date,
    prefs: Preferences,
    after: dt.datetime | None,
    not_before: dt.datetime | None,
) -> Proposal | NoFit:
    """`count` more induction sessions between `first_day` and `last_day`, each a later day and
    at least min_gap after the previous one (used to re-flow a missed session)."""
    zone = availability.site.zone
    slots: list[Slot] = []
    problems: list[DayProblem] = []
    day = first_day
    if after is not None:
        # The gap is real time: an instant in a zone with a clock change, plus a day, is a wall-clock
        # day (23 hours across the spring-forward night), so it is added in UTC.
        after = after.astimezone(dt.UTC)
        day = max(day, local_day(after, zone) + dt.timedelta(days=1))
    previous = after
    while len(slots) < count and day <= last_day:
        earliest = previous + rule.min_gap if previous else None
        if not_before is not None:
            earliest = max(earliest, not_before) if earliest else not_before
        found = availability.first_slot(day, rule.session_length, rule.route, prefs, earliest)
        if isinstance(found, Slot):
            slots.append(found)
            previous = found.start
        else:
            problems.append(found)
        day += dt.timedelta(days=1)
    if len(slots) < count:
        return NoFit(
            reason=(
                f"Only {len(slots)} of the {sessions_text(count, 'remaining')} fit before "
                f"{day_label(last_day, texts_year(not_before, zone))}, "
                f"the end of the induction window."
            ),
            placed=len(slots),
            needed=count,
            problems=problems,
        )
    return Proposal(slots=slots)
