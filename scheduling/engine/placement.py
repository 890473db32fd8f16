"""Placement by a stated objective: which of the feasible times a proposal takes.

Feasibility is decided elsewhere (`Availability`: hours, closures, chair, patient, nurse
ratio, nurse hands-on limit; the planner: spacing, one a day, the window). Among the
feasible (start, chair) pairs a site's `placement_policy` chooses:

- ``earliest``: the earliest start, the first chair in name order, the least-loaded nurse
  (the behaviour before level-loading, kept exactly).
- ``level``: the smallest score, compared lexicographically (a later weight only breaks
  ties of every earlier one):

  a) the nurse's hands and the closing time: the fewest of the nurse's own hands-on
     intervals touched (0 unless a site lets a nurse set up several patients at once), then
     how far the session ends into the last `CLOSING_MARGIN` (45 min) before the day's real
     closing (a closure up to the closing time closes the site early), in started quarter
     hours (0 when it ends before them: lateness and waits for a nurse run a
     later end past closing, so among late times the one ending soonest); then the starts in the same quarter hour (on the real clock: the night the clocks go back has two 01:15s)
     beyond what the nurses on shift for a setup at that start can set up at once (a cap, not a
     minimum: spreading starts over every quarter hour broke the nurses' free time into pieces
     too short for a setup and cost a tenth of the sessions in the issue 17 bench);
  a') a start of the site's day template for that chair (`preferred_starts`), when given, or
     on a day that has a day plan (the template solved again around the day's bookings,
     scheduling.services.day_plans), a start of that plan (`day_starts`). The template is
     solved for the typical opening hours (`template_opening`): on a day open other hours
     (a Saturday morning beside weekdays 08:00-18:00) its starts would only break the day up,
     so no start there is the template's and the day is placed as without a template (its
     nurses too); a day plan is solved for its own day's hours and always counts;
  b) the quietest day: the share of the day's chair time already booked at the site, its chair
     time being the opening hours without the site's closures and each chair's out-of-use
     periods (`OpenDay`, worked out once per day). A
     course chooses each session's day among the days its rules allow (up to
     `DAY_SLACK_DAYS` (1) after the earliest possible day, the first session up to
     `FIRST_SESSION_SLACK_DAYS`), keeping the gap, one a day and the window, and only
     where the rest of the course still fits and, given one (a FHIR timing's boundsPeriod
     end), still ends by the course's last allowed moment (more slack ate the window a re-flow
     needs);
  c) the patient's habits (the sessions they attended): their usual weekday, then the distance
     from their usual start time, then their usual chair. So on an otherwise even day a patient
     keeps their usual time rather than the opening, and their chair rather than the least used
     (the chair gaps come after the habits, as after the earliest start: ahead of it they would
     change the placement of patients without habits, who tie here everywhere);
  d) within the day, packed from opening: the earliest start, then the fewest gaps left in
     the chair shorter than the shortest session that chair can take (a closure or the chair
     going out of use ends a gap as closing does; `shortest_sessions`: a
     chair equipped for no protocol's route has no such gap), then the least-used
     chair that day (booked minutes); the nurse is then, of those free for that time, the
     one the day template gives the chair (`chair_lanes`, when it was solved per nurse),
     then the one whose day it leaves the fewest minutes too short for another setup, then
     the least used;
  e) the chair id and nurse id (so the choice is deterministic).

Each choice carries `why`, the reason in words ("Tue 8 Dec 09:15, Chair 4: keeps setups
apart (no other start 09:15–09:30), the quietest allowed day, Chair 4 least used").

The level search looks at every free start of a day through `Availability.free_slots`
(one sweep over the day's bookings), so planning a course stays within a few
milliseconds per day looked at.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from scheduling.engine.availability import Availability
from scheduling.engine.model import (
    DayProblem,
    InductionRule,
    NoFit,
    Preferences,
    Proposal,
    SiteSnapshot,
    Slot,
    Span,
    Why,
)
from scheduling.engine.planner import (
    FIRST_SESSION_SEARCH_DAYS,
    MaintenanceRule,
    complete_induction,
    first_maintenance_day,
    maintenance_gap,
    maintenance_target,
    propose_additional,
    propose_induction,
    propose_maintenance,
    starts_note,
    texts_year,
    within_first,
)
from scheduling.engine.wallclock import day_bounds, local_day, opening_instant

EARLIEST = "earliest"
LEVEL = "level"
POLICIES = (EARLIEST, LEVEL)
BUCKET_MINUTES = 15
# How many days after the earliest possible day a course session may move to a quieter day.
DAY_SLACK_DAYS = 1
# The first session keeps close to the day asked for: at most this many days later.
FIRST_SESSION_SLACK_DAYS = 1
# A session ending this close to closing is taken only when no other start fits, and then the one
# ending soonest: lateness and waits for a nurse would carry it past closing. 45 minutes: with 30, the
# issue 17 bench still ran over on days whose sessions ended at 17:30 (a patient 30 minutes late, or
# late and then waiting for a nurse), and level ran over as much as earliest (33 against 30 minutes).
CLOSING_MARGIN = dt.timedelta(minutes=45)


@dataclass(frozen=True)
class Habits:
    """The patient's usual weekday, local start time and chair (from their sessions so far)."""

    weekday: int | None = None
    clock: dt.time | None = None
    chair_id: int | None = None


@dataclass(frozen=True)
class Placement:
    """How to choose among feasible times: the site's policy and what the level policy weighs."""

    policy: str = EARLIEST
    # chair id -> local wall-clock starts of the site's day template, preferred when free.
    preferred_starts: Mapping[int, frozenset[dt.time]] = field(default_factory=dict)
    # local day -> chair id -> that day's plan's starts (the template solved around the day's
    # bookings), preferred on that day instead of `preferred_starts`.
    day_starts: Mapping[dt.date, Mapping[int, frozenset[dt.time]]] = field(default_factory=dict)
    # The local opening and closing the day template was solved for: its starts, lanes and shifts
    # count only on days open those hours (None: on every day, as for starts given by a caller).
    template_opening: tuple[dt.time, dt.time] | None = None
    # local day -> (chair id, local start) -> the nurse that day's plan gives the start (a plan
    # solved with any nurse on any chair); otherwise the chair's lane decides.
    day_nurses: Mapping[dt.date, Mapping[tuple[int, dt.time], int]] = field(default_factory=dict)
    # chair id -> which nurse on shift (0, 1, ... by id) the template's per-nurse day gives the chair.
    chair_lanes: Mapping[int, int] = field(default_factory=dict)
    # (chair id, local start) -> the nurse a template solved per nurse without lanes (shifts that
    # differ) gives the start: her shift's local start and end, and which of the nurses on that
    # shift (0, 1, ... by id) she is.
    start_shifts: Mapping[tuple[int, dt.time], tuple[dt.time, dt.time, int]] = field(default_factory=dict)
    habits: Habits = Habits()
    # chair id -> the shortest chair time of the protocols whose route the chair is equipped for:
    # a gap in the chair shorter than this is lost. A chair left out takes no protocol, so no gap
    # in it is of use and none counts against it. None (no protocol known): each slot's own length.
    shortest_sessions: Mapping[int, dt.timedelta] | None = None

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown placement policy {self.policy!r}; choose one of {', '.join(POLICIES)}")

    @property
    def level(self) -> bool:
        return self.policy == LEVEL


# A level score: compared lexicographically (see the module docstring); () under earliest.
Score = tuple[Any, ...]


@dataclass(frozen=True)
class Choice:
    """One chosen slot, its score under the policy (empty under earliest) and why (None until
    explained)."""

    slot: Slot
    score: Score = ()
    reason: Why | None = None

    @property
    def why(self) -> str:
        return str(self.reason) if self.reason is not None else ""


def _label(instant: dt.datetime, zone: ZoneInfo) -> str:
    # With its year, as services.core.local_label: a course proposed in December runs into January.
    return f"{instant.astimezone(zone):%a %-d %b %Y %H:%M}"


def _minus(spans: Iterable[Span], holes: Iterable[tuple[Span, str]]) -> list[Span]:
    """`spans` (sorted, apart) without the `holes` (closures, a chair's out-of-use periods)."""
    left = list(spans)
    for hole, _ in holes:
        kept: list[Span] = []
        for span in left:
            if not hole.overlaps(span):
                kept.append(span)
                continue
            if span.start < hole.start:
                kept.append(Span(span.start, hole.start))
            if hole.end < span.end:
                kept.append(Span(hole.end, span.end))
        left = kept
    return left


def _minutes(spans: Iterable[Span]) -> int:
    return sum(int((span.end - span.start).total_seconds() // 60) for span in spans)


@dataclass(frozen=True)
class OpenDay:
    """The chair time one local day really has: the opening hours without the site's closures,
    and for each chair without its out-of-use periods. It depends only on the snapshot, so a
    placer works it out once per day and keeps it across claims."""

    # The day's local opening and closing (None when closed): whether the day template holds.
    hours: tuple[dt.time, dt.time] | None
    # The first open moment and the end of the last open span (an early closing: a closure up to
    # the closing time), or the opening hours when the day has no open span (local midnight to
    # midnight on a day without hours).
    opens_at: dt.datetime
    closes_at: dt.datetime
    # chair id -> the spans the chair can be used that day, sorted.
    chair_open: Mapping[int, tuple[Span, ...]]
    # chair id -> the starts and ends of those spans, sorted: the edges a gap in the chair runs to.
    chair_edges: Mapping[int, tuple[dt.datetime, ...]]
    # Minutes of chair time the day has, every chair together.
    open_minutes: int

    @classmethod
    def of(cls, site: SiteSnapshot, day: dt.date) -> OpenDay:
        zone = site.zone
        midnight, next_midnight = day_bounds(day, zone)
        hours = site.opening.get(day.weekday())
        opens_at = opening_instant(day, hours[0], zone) if hours else midnight
        closes_at = opening_instant(day, hours[1], zone) if hours else next_midnight
        day_closures = [closure for closure in site.closures if closure[0].overlaps(Span(midnight, next_midnight))]
        site_open = _minus([Span(opens_at, closes_at)], sorted(day_closures)) if hours else []
        if site_open:
            opens_at, closes_at = site_open[0].start, site_open[-1].end
        chair_open = {chair.id: tuple(_minus(site_open, chair.out_of_use)) for chair in site.chairs}
        return cls(
            hours=hours,
            opens_at=opens_at,
            closes_at=closes_at,
            chair_open=chair_open,
            chair_edges={
                chair_id: tuple(sorted(edge for span in spans for edge in span))
                for chair_id, spans in chair_open.items()
            },
            open_minutes=sum(_minutes(spans) for spans in chair_open.values()),
        )


class DayLoad:
    """What the level score needs to know about one local day at the site."""

    def __init__(self, availability: Availability, day: dt.date, open_day: OpenDay | None = None) -> None:
        site = availability.site
        zone = site.zone
        midnight, next_midnight = day_bounds(day, zone)
        window = Span(midnight, next_midnight)
        self.day = day
        open_day = open_day or OpenDay.of(site, day)
        self.hours: tuple[dt.time, dt.time] | None = open_day.hours
        self.opens_at: dt.datetime = open_day.opens_at
        self.closes_at: dt.datetime = open_day.closes_at
        self._edges = open_day.chair_edges
        self.chair_spans: dict[int, list[Span]] = {}
        self.chair_minutes: dict[int, int] = {}
        self.buckets: Counter[int] = Counter()
        booked = 0
        for chair in site.chairs:
            spans = availability.chair_spans(chair.id, window)
            self.chair_spans[chair.id] = spans
            minutes = 0
            usable = open_day.chair_open.get(chair.id, ())
            for span in spans:
                minutes += int((min(span.end, next_midnight) - max(span.start, midnight)).total_seconds() // 60)
                if midnight <= span.start < next_midnight:
                    self.buckets[_bucket(span.start, zone)] += 1
                # Only the booked part of the chair time the day has counts towards its share (a
                # session left in a closure added since is not chair time the day offers).
                for free in usable:
                    if free.start < span.end and span.start < free.end:
                        booked += int((min(span.end, free.end) - max(span.start, free.start)).total_seconds() // 60)
            self.chair_minutes[chair.id] = minutes
        # Per mille of the day's chair time (opening hours without closures and chairs out of use)
        # booked: the day-level weight. A day with no chair time counts as full: nothing is free there.
        self.booked_share = booked * 1000 // open_day.open_minutes if open_day.open_minutes else 1000
        self._availability, self._window = availability, window
        self._nurse_minutes: dict[int, int] | None = None
        self._hands: dict[int, list[Span]] = {}
        self._waste: dict[int, int] = {}
        self._start_waste: dict[dt.datetime, dict[int, int]] = {}

    def _nurse_hands(self, nurse_id: int) -> list[Span]:
        found = self._hands.get(nurse_id)
        if found is None:
            found = self._hands[nurse_id] = self._availability.nurse_hands(
                nurse_id, Span(self.opens_at, self.closes_at)
            )
        return found

    def _lost_minutes(self, hands: Iterable[Span], setup: dt.timedelta) -> int:
        """Minutes of the nurse's open day between hands-on intervals too short for a setup."""
        lost = dt.timedelta(0)
        previous = self.opens_at
        for span in sorted(hands, key=lambda s: s.start):
            gap = span.start - previous
            if dt.timedelta(0) < gap < setup:
                lost += gap
            previous = max(previous, span.end)
        gap = self.closes_at - previous
        if dt.timedelta(0) < gap < setup:
            lost += gap
        return int(lost.total_seconds() // 60)

    def nurse_waste(
        self, start: dt.datetime, end: dt.datetime, options: list[tuple[int, int]] | None = None
    ) -> dict[int, int]:
        """For each nurse who could take a session over [start, end) (`options`, as
        `Availability.nurses_for` gives them, when the caller has them): the minutes of their open
        day the session's hands-on work would leave too short for another setup (negative when
        it fills such a gap). Worked out once per start."""
        found = self._start_waste.get(start)
        if found is None:
            availability = self._availability
            work = availability.work
            setup = dt.timedelta(minutes=work.setup_minutes or 1)
            new = work.hands_on(start, end)
            found = {}
            for _load, nurse_id in availability.nurses_for(Span(start, end)) if options is None else options:
                hands = self._nurse_hands(nurse_id)
                before = self._waste.get(nurse_id)
                if before is None:
                    before = self._waste[nurse_id] = self._lost_minutes(hands, setup)
                found[nurse_id] = self._lost_minutes([*hands, *new], setup) - before
            self._start_waste[start] = found
        return found

    @property
    def nurse_minutes(self) -> dict[int, int]:
        """Minutes each nurse has booked that day (worked out when first asked: only the chosen
        slot's day needs it)."""
        if self._nurse_minutes is None:
            window = self._window
            self._nurse_minutes = {
                nurse.id: sum(
                    int((min(s.end, window.end) - max(s.start, window.start)).total_seconds() // 60)
                    for s in self._availability.nurse_spans(nurse.id, window)
                )
                for nurse in self._availability.site.nurses
            }
        return self._nurse_minutes

    def fragments(self, chair_id: int, span: Span, shortest: dt.timedelta) -> int:
        """How many gaps shorter than `shortest` the span leaves beside it in the chair."""
        return self.gaps_beside(chair_id, span.start, span.end, shortest)

    def gaps_beside(self, chair_id: int, start: dt.datetime, end: dt.datetime, shortest: dt.timedelta) -> int:
        """`fragments` of [start, end), without making the span."""
        before, after = self.opens_at, self.closes_at
        # A closure or an out-of-use period is an edge a gap runs to, as opening and closing are.
        edges = self._edges.get(chair_id, ())
        position = bisect_right(edges, start)
        if position and edges[position - 1] > before:
            before = edges[position - 1]
        position = bisect_left(edges, end)
        if position < len(edges) and edges[position] < after:
            after = edges[position]
        for other in self.chair_spans.get(chair_id, ()):
            if other.end <= start:
                if other.end > before:
                    before = other.end
            elif other.start >= end and other.start < after:
                after = other.start
        gap_before, gap_after = start - before, after - end
        zero = dt.timedelta(0)
        return int(zero < gap_before < shortest) + int(zero < gap_after < shortest)


def _gap_measure(shortest: Mapping[int, dt.timedelta] | None, chair_id: int, own_length: dt.timedelta) -> dt.timedelta:
    """How long a gap in the chair must be to be of use: the shortest session the chair can take;
    nothing for a chair that takes no protocol (no gap there counts as lost); the slot's own length
    when no shortest session is known."""
    if shortest is None:
        return own_length
    return shortest.get(chair_id, dt.timedelta(0))


def _quarters_into(end: dt.datetime, since: dt.datetime) -> int:
    """How many quarter hours, begun, `end` lies after `since` (0 when it is not after it)."""
    seconds = (end - since).total_seconds()
    return math.ceil(seconds / (BUCKET_MINUTES * 60)) if seconds > 0 else 0


def _bucket(instant: dt.datetime, zone: ZoneInfo) -> int:
    """The quarter hour `instant` falls in, counted on the real clock: every zone's offset is whole
    quarter hours, so it is the local clock's quarter hour too, except on the night the clocks go
    back, when the local 01:00-02:00 happens twice and the two are different quarter hours."""
    return int(instant.timestamp()) // (BUCKET_MINUTES * 60)


class Placer:
    """Chooses slots under one policy against one Availability. Day loads are computed once
    per day and forgotten when a slot is claimed through `claim`."""

    def __init__(self, availability: Availability, placement: Placement | None = None) -> None:
        self.availability = availability
        self.placement = placement or Placement()
        self._loads: dict[dt.date, DayLoad] = {}
        # Closures and chairs out of use do not change with a claim: kept while the loads are redone.
        self._open_days: dict[dt.date, OpenDay] = {}
        self._day_slots: dict[tuple[Any, ...], list[Slot]] = {}
        self._first_slots: dict[tuple[Any, ...], Slot | None] = {}
        self._chair_names = {chair.id: chair.name for chair in availability.site.chairs}

    # --- shared ---------------------------------------------------------------

    def claim(self, slot: Slot, *, for_patient: bool = True) -> None:
        """Record a booked slot (for the patient being planned, unless `for_patient` is False:
        another patient's, as a simulation books one patient after another)."""
        self.availability.claim(slot, for_patient=for_patient)
        self._loads.pop(local_day(slot.start, self.availability.site.zone), None)
        self._day_slots.clear()
        self._first_slots.clear()

    def day_slots(self, day: dt.date, duration: dt.timedelta, route: str, prefs: Preferences) -> list[Slot]:
        """Every free (start, chair) of `day` for the patient, from one sweep kept per day: a
        course's plan asks about the same days many times, with different earliest starts."""
        key = (day, duration, route, prefs)
        found = self._day_slots.get(key)
        if found is None:
            found = self._day_slots[key] = list(
                self.availability.free_slots(day, duration, route, prefs=prefs, for_patient=True, whole_day=True)
            )
        return found

    def first_slot(
        self,
        day: dt.date,
        duration: dt.timedelta,
        route: str,
        prefs: Preferences,
        not_before: dt.datetime | None = None,
    ) -> Slot | DayProblem:
        """`Availability.first_slot` from `day_slots`, for trying courses: a day without a slot
        says only that (the words for the desk come from `Availability.first_slot`)."""
        key = (day, duration, route, prefs)
        swept = self._day_slots.get(key)
        if swept is None:
            # A day looked at only here: the sweep stops at its first free slot.
            first_key = (*key, not_before)
            if first_key not in self._first_slots:
                found = self.availability.free_slots(
                    day, duration, route, prefs=prefs, not_before=not_before, for_patient=True
                )
                self._first_slots[first_key] = next(iter(found), None)
            first = self._first_slots[first_key]
            return first if first is not None else DayProblem(day, "no free time")
        for slot in swept:
            if not_before is None or slot.start >= not_before:
                return slot
        return DayProblem(day, "no free time")

    def load(self, day: dt.date) -> DayLoad:
        found = self._loads.get(day)
        if found is None:
            open_day = self._open_days.get(day)
            if open_day is None:
                open_day = self._open_days[day] = OpenDay.of(self.availability.site, day)
            found = self._loads[day] = DayLoad(self.availability, day, open_day)
        return found

    def choose(
        self,
        day: dt.date,
        duration: dt.timedelta,
        route: str,
        prefs: Preferences,
        not_before: dt.datetime | None = None,
    ) -> Choice | DayProblem:
        """The slot the policy takes on `day`, or why there is none."""
        earliest = self.availability.first_slot(day, duration, route, prefs, not_before)
        if isinstance(earliest, DayProblem) or not self.placement.level:
            return (
                earliest if isinstance(earliest, DayProblem) else Choice(earliest, reason=self.why_earliest(earliest))
            )
        candidates = self.candidates(day, duration, route, prefs, not_before)
        if not candidates:  # cannot happen when first_slot found one; stay safe
            return Choice(earliest, reason=self.why_earliest(earliest))
        return self.explain(min(candidates, key=lambda c: c.score), candidates)

    def why_earliest(self, slot: Slot, because: str = "the earliest free time") -> Why:
        return Why(self.slot_label(slot), because)

    def slot_label(self, slot: Slot) -> str:
        """The slot's time and chair, as a why names them ("Mon 9 Mar 2026 09:00, Chair 2")."""
        return f"{_label(slot.start, self.availability.site.zone)}, {self._chair_names.get(slot.chair_id, 'chair')}"

    # --- the level score ------------------------------------------------------

    def candidates(
        self,
        day: dt.date,
        duration: dt.timedelta,
        route: str,
        prefs: Preferences,
        not_before: dt.datetime | None = None,
    ) -> list[Choice]:
        """Every feasible (start, chair) of `day` with its level score (why filled in later)."""
        slots = [
            slot
            for slot in self.day_slots(day, duration, route, prefs)
            if not_before is None or slot.start >= not_before
        ]
        return [Choice(slot, score) for slot, score in zip(slots, self.scores(slots), strict=True)]

    def score(self, slot: Slot) -> Score:
        """The level score of a feasible slot (see the module docstring for the order)."""
        return self.scores([slot])[0]

    def scores(self, slots: Iterable[Slot]) -> list[Score]:
        """The level score of each feasible slot. A day's slots come start by start, a chair
        each: what depends only on the time (the local clock, the day's load, the quarter
        hour and the nurses on shift then, the patient's usual weekday and time) is worked out
        once per time, not per chair."""
        availability = self.availability
        site = availability.site
        zone = site.zone
        placement = self.placement
        habits = placement.habits
        preferred = placement.preferred_starts
        shortest = placement.shortest_sessions
        several_setups = site.setups_per_nurse is not None and site.setups_per_nurse > 1
        setups_per_nurse = site.setups_per_nurse or 1
        setup_length = dt.timedelta(minutes=availability.work.setup_minutes or 1)
        usual_minute = habits.clock.hour * 60 + habits.clock.minute if habits.clock is not None else None
        usual_chair = habits.chair_id
        found: list[Score] = []
        at: tuple[dt.datetime, dt.datetime] | None = None
        for slot in slots:
            start, end = slot.start, slot.end
            if (start, end) != at:
                at = (start, end)
                local = start.astimezone(zone)
                load = self.load(local.date())
                planned = placement.day_starts.get(local.date())
                today_starts = planned if planned is not None else preferred if self._template_day(load) else {}
                minute = local.hour * 60 + local.minute
                clock = local.time().replace(tzinfo=None)
                # The nurse's and the closing time first: one weight, so the positions of the rest stay put.
                near_closing = _quarters_into(end, load.closes_at - CLOSING_MARGIN)
                starts_there = load.buckets[_bucket(start, zone)]
                # The cap is what the nurses on shift at this start can set up at once (not every
                # nurse of the site: on a day one of two works, two starts together wait on her).
                same_bucket = (
                    max(0, starts_there + 1 - setups_per_nurse * len(self._setters(start, setup_length)))
                    if starts_there
                    else 0
                )
                weekday_miss = int(habits.weekday is not None and habits.weekday != local.weekday())
                time_distance = abs(minute - usual_minute) if usual_minute is not None else 0
                own_length = end - start
                # The least overlap any nurse free at this time would have: `_nurse_for` then gives
                # the slot that nurse (the sweep's nurse is only one who is free).
                hands = (
                    min(
                        (availability.hands_overlaps(n, start, end) for _, n in availability.nurses_for(slot.span)),
                        default=0,
                    )
                    if several_setups
                    else 0
                )
            chair_id = slot.chair_id
            template_miss = int(bool(preferred) and clock not in today_starts.get(chair_id, ()))
            found.append(
                (
                    (hands, near_closing),
                    same_bucket,
                    template_miss,
                    load.booked_share,
                    weekday_miss,
                    time_distance,
                    int(usual_chair is not None and usual_chair != chair_id),
                    (minute, load.gaps_beside(chair_id, start, end, _gap_measure(shortest, chair_id, own_length))),
                    load.chair_minutes.get(chair_id, 0),
                    start,
                    chair_id,
                )
            )
        return found

    def _setters(self, start: dt.datetime, setup: dt.timedelta) -> list[int]:
        """The nurses on shift for a setup from `start`: who can set up a session starting then."""
        return self.availability.nurses_on_shift(Span(start, start + setup))

    def _template_day(self, load: DayLoad) -> bool:
        """Whether the day template holds on the load's day: it is open the hours the template
        was solved for."""
        opening = self.placement.template_opening
        return opening is None or load.hours == opening

    def _nurse_for(self, slot: Slot, among: Collection[int] | None = None) -> Slot:
        """Among the nurses free for the slot's time (under level), of `among` if given (a search
        for one nurse): the one whose day it leaves the fewest minutes too short for another
        setup, then the least used that day."""
        availability = self.availability
        load = self.load(local_day(slot.start, availability.site.zone))
        options = [o for o in availability.nurses_for(slot.span) if among is None or o[1] in among]
        if not options:
            return slot
        waste = load.nurse_waste(slot.start, slot.end, options) if self.placement.level else {}
        lane_nurse = self._lane_nurse(slot) if self.placement.level else None
        # With one setup at a time a nurse is free for the slot only if none of their hands-on
        # work touches it (`Availability.hands_free`): the count is 0 for every option.
        one_setup = availability.site.setups_per_nurse == 1
        best = min(
            options,
            key=lambda option: (
                0 if one_setup else availability.hands_overlaps(option[1], slot.start, slot.end),
                int(lane_nurse is not None and option[1] != lane_nurse),
                waste.get(option[1], 0),
                load.nurse_minutes.get(option[1], 0),
                option[0],
                option[1],
            ),
        )
        return Slot(slot.start, slot.end, slot.chair_id, best[1])

    def _lane_nurse(self, slot: Slot) -> int | None:
        """The nurse the day's plan gives the slot's start, else the one the day template's
        per-nurse day gives it: for a template of nurses on different shifts, the nurse on the
        start's shift (the rank-th by id of those whose shift today has its hours), else the
        lane-th of the nurses on shift over the slot, by id (None without either, without such a
        nurse on shift, or on a day not open the hours the template was solved for)."""
        local = slot.start.astimezone(self.availability.site.zone)
        planned = self.placement.day_nurses.get(local.date(), {}).get(
            (slot.chair_id, local.time().replace(tzinfo=None))
        )
        if planned is not None:
            return planned
        if not self._template_day(self.load(local.date())):
            return None
        return template_nurse(
            self.availability,
            slot.span,
            shift=self.placement.start_shifts.get((slot.chair_id, local.time().replace(tzinfo=None))),
            lane=self.placement.chair_lanes.get(slot.chair_id),
        )

    def explain(
        self,
        choice: Choice,
        candidates: list[Choice],
        *,
        day_reason: str = "",
        nurse_ids: Collection[int] | None = None,
    ) -> Choice:
        """The chosen slot (with the least-used nurse, of `nurse_ids` if given) and why, in words,
        against the others."""
        zone = self.availability.site.zone
        slot = self._nurse_for(choice.slot, nurse_ids)
        (
            nurse_time,
            beyond,  # the starts in the quarter hour beyond what the nurses can set up at once
            template_miss,
            _share,
            weekday_miss,
            time_distance,
            chair_miss,
            fragments,
            chair_minutes,
        ) = choice.score[:9]
        hands, near_closing = nurse_time
        fragments = fragments[1]
        # The starts already in the quarter hour (the score holds only those beyond the setups the
        # nurses can do at once).
        same_bucket = self.load(local_day(choice.slot.start, zone)).buckets[_bucket(choice.slot.start, zone)]
        chair = self._chair_names.get(slot.chair_id, "chair")
        local = slot.start.astimezone(zone)
        bucket_start = local.replace(minute=(local.minute // BUCKET_MINUTES) * BUCKET_MINUTES)
        bucket = f"{bucket_start:%H:%M}–{bucket_start + dt.timedelta(minutes=BUCKET_MINUTES):%H:%M}"
        parts: list[str] = []
        others = [c for c in candidates if c is not choice]
        if same_bucket == 0:
            parts.append(f"keeps setups apart (no other start {bucket})" if not hands else f"no other start {bucket}")
        else:
            others_there = f"{same_bucket} other start{'s' if same_bucket > 1 else ''} {bucket}"
            # Whether the chosen nurse herself has another start in the quarter hour (the sessions
            # claimed so far in this proposal included; the choice is explained before it is claimed).
            begins = bucket_start.astimezone(dt.UTC)
            ends = begins + dt.timedelta(minutes=BUCKET_MINUTES)
            hers = any(
                begins <= span.start < ends for span in self.availability.nurse_spans(slot.nurse_id, Span(begins, ends))
            )
            if not hers:
                parts.append(f"{others_there}, each with another nurse")
            elif not beyond:
                parts.append(f"{others_there}, no more than the nurses on shift can set up at once")
            else:
                parts.append(others_there)
        if hands:
            parts.append("the nurse's hands-on work overlaps the least")
        if not near_closing and any(c.score[0][1] for c in others):
            parts.append("ends well before closing")
        elif near_closing and any(c.score[0][1] > near_closing for c in others):
            parts.append("of the free times near closing, the one ending soonest")
        if self.placement.preferred_starts:
            planned = local.date() in self.placement.day_starts
            if not template_miss:
                parts.append("a start of this day's plan" if planned else "a start of the day template")
            elif not planned and not self._template_day(self.load(local.date())):
                parts.append("no day template: it is for other opening hours than this day's")
        if day_reason:
            parts.append(day_reason)
        if not fragments and any(c.score[7][1] for c in others):
            parts.append(f"leaves no gap in {chair} too short to use")
        same_start = [c.score[8] for c in others if c.slot.start == choice.slot.start]
        if same_start and min(same_start) >= chair_minutes and max(same_start) > chair_minutes:
            parts.append(f"{chair} least used")
        habits = self.placement.habits
        if habits.weekday is not None and not weekday_miss:
            parts.append("the patient's usual weekday")
        if habits.clock is not None and time_distance == 0:
            parts.append("the patient's usual time")
        if habits.chair_id is not None and not chair_miss:
            parts.append("the patient's usual chair")
        return Choice(slot, choice.score, Why(self.slot_label(slot), ", ".join(parts)))

    def rank(self, slots: Iterable[Slot], *, nurse_ids: Collection[int] | None = None) -> list[Choice]:
        """Given free slots (a finder's, of `nurse_ids` if the search named them), best first under
        the policy, each with why. Under earliest they keep their order."""
        slots = list(slots)
        if not self.placement.level:
            return [Choice(slot, reason=self.why_earliest(slot)) for slot in slots]
        scored = sorted((Choice(slot, self.score(slot)) for slot in slots), key=lambda c: c.score)
        if not scored:
            return []
        # Only the best is explained (and given its nurse): explaining compares with every other.
        explained = self.explain(
            scored[0], scored, day_reason=self.searched_day(scored[0], scored), nurse_ids=nurse_ids
        )
        return [explained, *scored[1:]]

    def searched_day(self, best: Choice, candidates: Iterable[Choice]) -> str:
        """How busy `best`'s day is against the other days among `candidates` (a search's free times
        over several days): the desk asked from the day the patient is due, and may be offered a
        later one, the quieter day being why. Empty over one day."""
        zone = self.availability.site.zone
        shares = {day: self.load(day).booked_share for day in {local_day(c.slot.start, zone) for c in candidates}}
        return _day_reason(best, shares, self.availability, searched=True)


# --- whole courses under a policy ----------------------------------------------------------


def template_nurse(
    availability: Availability, span: Span, *, shift: tuple[dt.time, dt.time, int] | None, lane: int | None
) -> int | None:
    """The nurse a day template's per-nurse day gives a session over `span`: for a start solved
    for a shift (its local hours and her rank on it), the rank-th by id of the nurses whose shift
    that day has those hours; else for a chair's lane, the lane-th of the nurses on shift over the
    span, by id. None without either, or without such a nurse on shift."""
    if shift is not None:
        begins, ends, rank = shift
        alike = availability.nurses_on_shift(span, shift=(begins, ends))
        return alike[rank % len(alike)] if alike else None
    if lane is None:
        return None
    on_shift = availability.nurses_on_shift(span)
    return on_shift[lane % len(on_shift)] if on_shift else None


def propose_induction_placed(
    placer: Placer,
    rule: InductionRule,
    start_day: dt.date,
    prefs: Preferences,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    *,
    this_year: int | None = None,
) -> Proposal | NoFit:
    """An induction under the placer's policy, each slot with why (`Proposal.reasons`); its texts
    write a day outside `this_year` (the caller's now's; by default `not_before`'s) with its year.

    Under ``level`` it never fails where ``earliest`` succeeds: the earliest course is found
    first, and a session moves to a better day or time only if the earliest completion of
    the rest of the course from there still fits (otherwise it takes the earliest slot,
    from which the rest is known to fit), and still ends by `not_after` (a FHIR timing's
    boundsPeriod end) when the earliest course does. A course that ends after `not_after` is the
    caller's to refuse: the earliest course is returned then, as no course ends sooner."""
    availability = placer.availability
    this_year = texts_year(not_before, availability.site.zone, this_year)
    if not placer.placement.level:
        earliest = propose_induction(availability, rule, start_day, prefs, not_before, this_year=this_year)
        if isinstance(earliest, Proposal):
            earliest.whys = [placer.why_earliest(slot) for slot in earliest.slots]
        return earliest
    earliest = propose_induction(availability, rule, start_day, prefs, not_before, this_year=this_year)
    if isinstance(earliest, NoFit):
        return earliest
    if not_after is not None and earliest.slots[-1].end > not_after:
        earliest.whys = [placer.why_earliest(slot) for slot in earliest.slots]
        return earliest
    zone = availability.site.zone
    duration, route = rule.session_length, rule.route
    greedy = earliest
    # The first session: the earliest course's first day, or up to FIRST_SESSION_SLACK_DAYS later.
    first_day = local_day(greedy.slots[0].start, zone)
    last_first_day = min(
        first_day + dt.timedelta(days=FIRST_SESSION_SLACK_DAYS),
        start_day + dt.timedelta(days=FIRST_SESSION_SEARCH_DAYS - 1),
    )
    chosen, greedy, why = _choose_session(
        placer, rule, prefs, [], greedy, first_day, last_first_day, not_before, not_after, duration, route
    )
    slots, whys = [chosen], [why]
    course_first_day = local_day(chosen.start, zone)
    total = rule.total_sessions
    while len(slots) < total:
        index = len(slots)
        after = max(slots[-1].start + rule.min_gap, not_before) if not_before else slots[-1].start + rule.min_gap
        earliest_next = greedy.slots[index]
        low = local_day(earliest_next.start, zone)
        high = low + dt.timedelta(days=DAY_SLACK_DAYS)
        high = min(high, _last_day_for(rule, course_first_day, index))
        chosen, greedy, why = _choose_session(
            placer, rule, prefs, slots, greedy, low, high, after, not_after, duration, route
        )
        slots.append(chosen)
        whys.append(why)
    notes, late_start = list(earliest.notes), earliest.late_start
    patient_notes = None
    earliest_first_day = local_day(earliest.slots[0].start, zone)
    if course_first_day != earliest_first_day:
        # The "Starts ..." note names the day this course starts; earliest's reason why the day
        # asked for failed stays, followed by why level took a later day than earliest's (for
        # staff: a patient reads the day and earliest's reason alone).
        moved = whys[0].because
        if late_start:
            notes = [note for note in notes if note != starts_note(earliest_first_day, late_start, this_year)]
        patient_notes = [starts_note(course_first_day, late_start, this_year), *notes]
        late_start = f"{late_start}; {moved}" if late_start else moved
        notes.insert(0, starts_note(course_first_day, late_start, this_year))
    return Proposal(slots=slots, notes=notes, whys=whys, late_start=late_start, patient_notes=patient_notes)


def _last_day_for(rule: InductionRule, first_day: dt.date, index: int) -> dt.date:
    """The last day session `index` (0-based) may take: the end of its week of a weekly pattern,
    else the end of the window."""
    if rule.weekly_counts:
        placed = 0
        for week, count in enumerate(rule.weekly_counts):
            placed += count
            if index < placed:
                return first_day + dt.timedelta(days=7 * (week + 1) - 1)
    return first_day + dt.timedelta(days=rule.span_days - 1)


def _choose_session(
    placer: Placer,
    rule: InductionRule,
    prefs: Preferences,
    placed: list[Slot],
    greedy: Proposal,
    low: dt.date,
    high: dt.date,
    not_before: dt.datetime | None,
    not_after: dt.datetime | None,
    duration: dt.timedelta,
    route: str,
) -> tuple[Slot, Proposal, Why]:
    """Session len(placed)'s slot: the best-scored of the days low..high whose earliest
    completion still fits (and ends by `not_after`, when given), else the earliest one. Returns
    it, the completion, and why.

    Days are looked at quietest first, and the search stops once the best so far has nothing
    against it before the day weight (setups apart, no other start in its quarter hour, a
    template start) on a day strictly quieter than every day not yet looked at: no such day
    could score better."""
    availability = placer.availability
    zone = availability.site.zone
    index = len(placed)
    fallback = greedy.slots[index]
    days = []
    day = low
    while day <= high:
        days.append(day)
        day += dt.timedelta(days=1)
    shares = {day: placer.load(day).booked_share for day in days}
    days.sort(key=lambda day: (shares[day], day))
    options: list[tuple[Choice, list[Choice]]] = []
    rejected: set[Slot] = set()

    def accept(best: Choice, candidates: list[Choice]) -> tuple[Slot, Proposal, Why] | None:
        following = greedy.slots[index + 1] if index + 1 < len(greedy.slots) else None
        if best.slot == fallback:
            completion: Proposal | NoFit = greedy
        elif (index > 0 or not rule.weekly_counts) and (
            following is None
            or (
                best.slot.start + rule.min_gap <= following.start
                and local_day(best.slot.start, zone) < local_day(following.start, zone)
            )
        ):
            # The rest of the earliest course still keeps its gap after this slot, on later days, in
            # the same weeks (only a first session's move shifts the weeks) and inside the window
            # (a later first session only moves the window's end later): it stays as it is.
            completion = Proposal(slots=[*placed, best.slot, *greedy.slots[index + 1 :]], notes=list(greedy.notes))
        else:
            completion = complete_induction(availability, rule, [*placed, best.slot], prefs, placer.first_slot)
        if not isinstance(completion, Proposal) or (not_after is not None and completion.slots[-1].end > not_after):
            rejected.add(best.slot)
            return None
        explained = placer.explain(best, candidates, day_reason=_day_reason(best, shares, availability))
        # The nurse may change (the least used of those free); the completion is unaffected,
        # being on other days.
        completion.slots[index] = explained.slot
        assert explained.reason is not None  # explain always says why
        return explained.slot, completion, explained.reason

    for position, day in enumerate(days):
        candidates = placer.candidates(day, duration, route, prefs, not_before)
        if not candidates:
            continue
        options.append((min(candidates, key=lambda c: c.score), candidates))
        best, best_candidates = min(options, key=lambda option: option[0].score)
        later = days[position + 1] if position + 1 < len(days) else None
        if (
            later is not None
            and all(weight <= 0 for weight in best.score[0])
            and best.score[1:3] == (0, 0)
            and shares[later] > best.score[3]
        ):
            chosen = accept(best, best_candidates)
            if chosen is not None:
                return chosen
    options.sort(key=lambda option: option[0].score)
    for best, candidates in options:
        if best.slot not in rejected:
            chosen = accept(best, candidates)
            if chosen is not None:
                return chosen
    return (
        fallback,
        greedy,
        placer.why_earliest(fallback, "the earliest free time (the rest of the course fits only so)"),
    )


def _day_reason(best: Choice, shares: dict[dt.date, int], availability: Availability, *, searched: bool = False) -> str:
    """How busy the best's day is against the others (`shares`: day -> booked share in tenths of a
    percent): the quietest of the days a course allows, or of the days a search looked at."""
    if len(shares) < 2:
        return ""
    day = local_day(best.slot.start, availability.site.zone)
    share = shares[day]
    if share <= min(shares.values()):
        return f"the quietest {'day searched' if searched else 'allowed day'} ({share / 10:.0f}% of chair time booked)"
    return f"a day with {share / 10:.0f}% of chair time booked"


def _maintenance_options(
    placer: Placer,
    rule: MaintenanceRule,
    days: list[dt.date],
    target: dt.date,
    prefs: Preferences,
    not_before: dt.datetime | None,
    overdue: bool,
) -> list[tuple[Choice, list[Choice]]]:
    """Each of `days` (in date order) with room, as its best-scored start and every start it has.
    A session already overdue takes the first day with room: the patient is not kept waiting for a
    quieter day."""
    options: list[tuple[Choice, list[Choice]]] = []
    for day in days:
        candidates = placer.candidates(day, rule.session_length, rule.route, prefs, not_before)
        if candidates:
            shift = abs((day - target).days)
            options.append((min(candidates, key=lambda c: (c.score[:9], shift, c.score[9:])), candidates))
            if overdue:
                break
    return options


def propose_maintenance_placed(
    placer: Placer,
    rule: MaintenanceRule,
    previous_start: dt.datetime,
    until: dt.date,
    prefs: Preferences,
    not_before: dt.datetime | None = None,
    first_day: dt.date | None = None,
    first_within: tuple[dt.date | None, dt.date | None] = (None, None),
) -> tuple[list[Slot], list[DayProblem], list[Why]]:
    """Maintenance sessions under the placer's policy, with why for each. None is laid out before
    `first_day` (a resume date) or on the day of `not_before` (a day's notice). Under ``level``
    each session takes the best-scored of the days within the tolerance of its interval
    (the quietest, then the patient's habits), not the nearest, except a session already overdue,
    which takes the first day with room (level only within that day); every day looked at keeps
    `min_days`..`max_days` from the session placed before it (never from a missed one's
    target: a session with no such day ends the layout, as under earliest). A day is taken
    only if earliest's layout of the rest from it holds as many sessions as earliest's from the
    session before: level never lays out fewer than earliest would. The first session keeps to
    `first_within` when one of its days there has room (`propose_maintenance`)."""
    availability = placer.availability
    if not placer.placement.level:
        earliest, missed = propose_maintenance(
            availability, rule, previous_start, until, prefs, not_before, first_day=first_day, first_within=first_within
        )
        return earliest, missed, [placer.why_earliest(slot) for slot in earliest]
    zone = availability.site.zone
    slots: list[Slot] = []
    whys: list[Why] = []
    problems: list[DayProblem] = []
    anchor = local_day(previous_start, zone)
    today = local_day(not_before, zone) if not_before is not None else None
    floor = first_maintenance_day(today, first_day)
    counted: dict[dt.date, int] = {}

    def earliest_count(start: dt.datetime) -> int:
        """How many sessions earliest lays out after a session at `start` (claiming none: each is
        on a later day). By day: the layout depends on the day, not the time."""
        day = local_day(start, zone)
        if day not in counted:
            rest, _ = propose_maintenance(
                availability, rule, start, until, prefs, not_before, claim=False, first_day=first_day
            )
            counted[day] = len(rest)
        return counted[day]

    last_start = previous_start
    while True:
        target, overdue = maintenance_target(anchor, rule, today)
        if target > until:
            break
        allowed = [
            day
            for day in (
                target + dt.timedelta(days=shift) for shift in range(-rule.tolerance_days, rule.tolerance_days + 1)
            )
            if (floor is None or day >= floor)
            and (overdue or rule.min_days <= (day - anchor).days <= rule.max_days)
            and day <= until
        ]
        options = _maintenance_options(
            placer, rule, allowed if slots else within_first(allowed, first_within), target, prefs, not_before, overdue
        )
        if not options and not slots and first_within != (None, None):
            # No room on the days the change points to: the days the interval allows, as before.
            options = _maintenance_options(placer, rule, allowed, target, prefs, not_before, overdue)
        if not options:
            # As under earliest: no later session may be laid out from the missed one's target, it
            # would be more than max_days after the last session placed.
            problems.append(maintenance_gap(rule, target))
            break
        shares = {local_day(o.slot.start, zone): o.score[3] for o, _ in options}
        options.sort(key=lambda o: (o[0].score[:9], abs((local_day(o[0].slot.start, zone) - target).days)))
        # Earliest's layout from the session before (this one included): the best day whose rest
        # holds as many is taken (earliest's own day always does), else the one whose rest holds most.
        needed = earliest_count(last_start)
        taken = next((o for o in options if 1 + earliest_count(o[0].slot.start) >= needed), None)
        best, candidates = taken or max(options, key=lambda o: earliest_count(o[0].slot.start))
        explained = placer.explain(best, candidates, day_reason=_day_reason(best, shares, availability))
        placer.claim(explained.slot)
        slots.append(explained.slot)
        assert explained.reason is not None  # explain always says why
        whys.append(explained.reason)
        anchor = local_day(explained.slot.start, zone)
        last_start = explained.slot.start
    return slots, problems, whys


def propose_additional_placed(
    placer: Placer,
    rule: InductionRule,
    count: int,
    first_day: dt.date,
    last_day: dt.date,
    prefs: Preferences,
    after: dt.datetime | None,
    not_before: dt.datetime | None,
) -> Proposal | NoFit:
    """`count` more induction sessions (a re-flow) under the placer's policy: the earliest
    re-flow is found first; under ``level`` each session may then take a better time on its
    day when the rest still fits."""
    availability = placer.availability
    earliest = propose_additional(availability, rule, count, first_day, last_day, prefs, after, not_before)
    if isinstance(earliest, NoFit) or not placer.placement.level:
        if isinstance(earliest, Proposal):
            earliest.whys = [placer.why_earliest(slot) for slot in earliest.slots]
        return earliest
    zone = availability.site.zone
    plan = list(earliest.slots)
    slots: list[Slot] = []
    whys: list[Why] = []
    for index in range(count):
        fallback = plan[index]
        day = local_day(fallback.start, zone)
        # In UTC, so the gap added below is real time (as propose_additional adds it).
        previous = slots[-1].start if slots else after.astimezone(dt.UTC) if after else None
        earliest_start = previous + rule.min_gap if previous else None
        if not_before is not None:
            earliest_start = max(earliest_start, not_before) if earliest_start else not_before
        candidates = placer.candidates(day, rule.session_length, rule.route, prefs, earliest_start)
        chosen: Choice | None = None
        for candidate in sorted(candidates, key=lambda c: c.score):
            if candidate.slot == fallback:
                chosen = placer.explain(candidate, candidates)
                break
            rest = propose_additional(
                availability,
                rule,
                count - index - 1,
                day + dt.timedelta(days=1),
                last_day,
                prefs,
                candidate.slot.start,
                not_before,
            )
            if isinstance(rest, Proposal):
                chosen = placer.explain(candidate, candidates)
                plan = [*slots, candidate.slot, *rest.slots]
                break
        if chosen is None:
            chosen = Choice(fallback, reason=placer.why_earliest(fallback))
        assert chosen.reason is not None  # explain always says why
        slots.append(chosen.slot)
        whys.append(chosen.reason)
    return Proposal(slots=slots, notes=earliest.notes, whys=whys)
