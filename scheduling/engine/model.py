"""Plain values the planner works on. No ORM here: services build these from
the database, the planner reasons over them, services write the result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo


class Span(NamedTuple):
    """A half-open instant range [start, end) in aware UTC datetimes.

    A named tuple rather than a frozen dataclass: a snapshot makes thousands of them (each booked
    session and its nurse's hands-on intervals), and a tuple is made, compared and hashed in C.
    It orders by (start, end), as the dataclass did."""

    start: dt.datetime
    end: dt.datetime

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def covers(self, other: Span) -> bool:
        return self.start <= other.start and other.end <= self.end


# The same order as Span's own comparison, as a key (callers sort spans with it).
span_order = attrgetter("start", "end")


@dataclass(frozen=True)
class ChairState:
    id: int
    name: str
    routes: frozenset[str]
    busy: tuple[Span, ...] = ()  # sorted by start
    # The chair's own closures (out of use: a pump broken, the chair being replaced), with their
    # reasons (empty when read without them), sorted: nothing starts in it over them, though the rest
    # of the site is open.
    out_of_use: tuple[tuple[Span, str], ...] = ()

    def out_of_use_problem(self, span: Span) -> str | None:
        """What is said when `span` falls in one of the chair's out-of-use periods; None if none."""
        why = next((reason for closed, reason in self.out_of_use if closed.overlaps(span)), None)
        return None if why is None else chair_out_of_use(self.name, why)


def chair_out_of_use(name: str, reason: str) -> str:
    """A chair's closure in words; one read without its reason (empty: what a patient is told) names
    the chair alone."""
    return f"the chair is out of use ({name}: {reason})" if reason else f"the chair is out of use ({name})"


def site_closed(reason: str) -> str:
    """A site's closure in words; one read without its reason (empty: what a patient is told) says
    only that the site is closed."""
    return f"the site is closed ({reason})" if reason else "the site is closed"


@dataclass(frozen=True)
class NurseWork:
    """A nurse's hands-on minutes in one session (the protocol's): setup from the start, a check
    at each offset, discharge before the end. In between the nurse only monitors."""

    setup_minutes: int = 20
    check_offsets_minutes: tuple[int, ...] = (40,)
    check_minutes: int = 5
    discharge_minutes: int = 10

    def hands_on(self, start: dt.datetime, end: dt.datetime) -> tuple[Span, ...]:
        """The hands-on intervals of a session [start, end), sorted, each inside the session.
        Pieces that overlap (a check inside the setup or the discharge) are one interval: the
        nurse is with one patient, and counting both would take two of her hands for one."""
        minute = dt.timedelta(minutes=1)
        spans = []
        if self.setup_minutes:
            spans.append(Span(start, min(end, start + self.setup_minutes * minute)))
        if self.check_minutes:
            for offset in self.check_offsets_minutes:
                check_start = start + offset * minute
                if check_start < end:
                    spans.append(Span(check_start, min(end, check_start + self.check_minutes * minute)))
        if self.discharge_minutes:
            spans.append(Span(max(start, end - self.discharge_minutes * minute), end))
        merged: list[Span] = []
        for span in sorted(span for span in spans if span.start < span.end):
            if merged and span.start < merged[-1].end:
                merged[-1] = Span(merged[-1].start, max(merged[-1].end, span.end))
            else:
                merged.append(span)
        return tuple(merged)


DEFAULT_NURSE_WORK = NurseWork()


@dataclass(frozen=True)
class NurseState:
    id: int
    name: str
    shifts: tuple[Span, ...] = ()  # sorted by start
    booked: tuple[Span, ...] = ()  # sorted by start
    hands_on: tuple[Span, ...] = ()  # the booked sessions' hands-on intervals, sorted by start


@dataclass(frozen=True)
class SiteSnapshot:
    """Everything about one site that decides whether a session can start at a moment."""

    id: int
    name: str
    zone: ZoneInfo
    opening: dict[int, tuple[dt.time, dt.time]]  # weekday -> (opens, closes), local wall clock
    # With their reasons (empty when read without them, as for a patient): closed whatever the reason.
    closures: tuple[tuple[Span, str], ...]
    chairs: tuple[ChairState, ...]
    nurses: tuple[NurseState, ...]
    max_patients_per_nurse: int = 3
    step_minutes: int = 15
    # At most this many hands-on intervals (setup, check, discharge) of one nurse at one moment.
    # None: the snapshot does not model nurse work (the hands-on rule is not applied).
    setups_per_nurse: int | None = None
    # Holds that had lapsed when the snapshot was read, not yet swept: free time, but their rows
    # still stand in the database until a booking or the sweep releases them.
    lapsed_holds: tuple[int, ...] = ()


@dataclass(frozen=True)
class Preferences:
    weekdays: frozenset[int] = frozenset(range(7))
    earliest: dt.time | None = None  # earliest local start
    latest: dt.time | None = None  # latest local start


@dataclass(frozen=True)
class InductionRule:
    """Either `sessions` within `window_days`, or `weekly_counts` per week from the first session."""

    session_length: dt.timedelta
    min_gap: dt.timedelta
    route: str
    sessions: int | None = None
    window_days: int | None = None
    weekly_counts: tuple[int, ...] = ()

    @property
    def total_sessions(self) -> int:
        return sum(self.weekly_counts) if self.weekly_counts else (self.sessions or 0)

    @property
    def span_days(self) -> int:
        """How many days, from the first session's date, the whole induction may take."""
        return 7 * len(self.weekly_counts) if self.weekly_counts else (self.window_days or 0)


class Slot(NamedTuple):
    start: dt.datetime
    end: dt.datetime
    chair_id: int
    nurse_id: int

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)


def day_label(day: dt.date, this_year: int | None = None) -> str:
    """A day as the engine's and the services' texts write it, "Mon 4 Jan", with its year when it is not
    in `this_year` (the year of the caller's now): the pages write a day outside the current year with
    its year (web's `with_year` filter), and these texts are read on the same pages and in the API."""
    text = f"{day:%a %-d %b}"
    return text if this_year is None or day.year == this_year else f"{text} {day.year}"


@dataclass(frozen=True)
class DayProblem:
    """Why nothing could be placed on one local day, in words for the front desk."""

    day: dt.date
    reason: str

    def describe(self, this_year: int | None = None) -> str:
        """ "Fri 1 Jan 2027: the site is closed (Winter break)": the day with its year when it is not in
        `this_year` (see day_label); without a year, as str() writes it."""
        return f"{day_label(self.day, this_year)}: {self.reason}"

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class DaySlots:
    """The free starts of one local day (one chair and nurse each), or why there are none;
    `every`: each free chair at those starts (what a placement policy weighs)."""

    day: dt.date
    slots: tuple[Slot, ...]
    reason: str = ""
    every: tuple[Slot, ...] = ()


@dataclass(frozen=True)
class Why:
    """Why a slot's time was chosen: `at` names the time and the chair ("Mon 9 Mar 2026 09:00,
    Chair 2"), `because` gives the policy's reasons ("the earliest free time"). Staff read the
    sentence (`str`); a message that already names the time quotes `because` alone."""

    at: str
    because: str

    def __str__(self) -> str:
        return f"{self.at}: {self.because}"


@dataclass
class Proposal:
    slots: list[Slot]
    notes: list[str] = field(default_factory=list)
    # Why each slot's time was chosen, one per slot (empty under the earliest policy's plain
    # planner calls that predate placement; filled by scheduling.engine.placement).
    whys: list[Why] = field(default_factory=list)
    # Why the course does not start on the day asked for, when it does not ("Mon 2 Mar: the site is
    # closed"): its "Starts ..." note says it after the day the course starts.
    late_start: str = ""
    # The notes as a patient reads them, where they differ: without the placement policy's reasons
    # for a later start (each day's booked share is the clinic's to know). None: as `notes`.
    patient_notes: list[str] | None = None

    @property
    def notes_for_patient(self) -> list[str]:
        return self.notes if self.patient_notes is None else self.patient_notes

    @property
    def reasons(self) -> list[str]:
        """Each slot's why as staff read it ("Mon 9 Mar 2026 09:00, Chair 2: the earliest free time")."""
        return [str(why) for why in self.whys]


@dataclass
class NoFit:
    """No complete course fits. `reason` names the rule; `problems` the days tried."""

    reason: str
    placed: int
    needed: int
    problems: list[DayProblem] = field(default_factory=list)

    def explain(self, limit: int = 6, this_year: int | None = None) -> str:
        lines = [self.reason]
        lines += [f"  {problem.describe(this_year)}" for problem in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  … and {len(self.problems) - limit} more days")
        return "\n".join(lines)
