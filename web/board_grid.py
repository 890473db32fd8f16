"""The day board's time grid, laid out in plain Python on plain values.

The grid's x axis is the site's local wall clock, in columns of SLOT_MINUTES.
Positions are wall-clock minutes since the axis start, not elapsed minutes: on
a daylight-saving day a session from 10:00 to 12:00 local still spans 10:00 to
12:00 on the axis, and the axis itself keeps its printed hours. The page places
each block with classes (`gs-N` start column, `gw-N` width), because the
Content-Security-Policy forbids inline styles.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

SLOT_MINUTES = 5
DAY_MINUTES = 24 * 60
# A day the site is closed (no opening hours) still shows a working day, so a session
# booked on it anyway is visible, but no gap is offered.
FALLBACK_HOURS = (dt.time(8, 0), dt.time(18, 0))


@dataclass(frozen=True)
class Axis:
    start: int  # wall-clock minutes since local midnight, on the hour
    end: int

    @property
    def columns(self) -> int:
        return (self.end - self.start) // SLOT_MINUTES

    def place(self, start: int, end: int) -> tuple[int, int] | None:
        """Grid column (1-based) and width in columns of [start, end), clipped to the axis; None if outside."""
        first = max(start, self.start)
        last = min(end, self.end)
        if last <= first:
            return None
        column = (first - self.start) // SLOT_MINUTES
        width = max(1, math.ceil((last - self.start) / SLOT_MINUTES) - column)
        return column + 1, width

    def hours(self) -> list[dict[str, Any]]:
        return [
            {
                "label": f"{(minute // 60) % 24:02d}:00",
                "column": (minute - self.start) // SLOT_MINUTES + 1,
                "width": min(60, self.end - minute) // SLOT_MINUTES,
            }
            for minute in range(self.start, self.end, 60)
        ]


@dataclass
class Item:
    """One thing on a lane: a session, a free gap, the chair out of use, or a band."""

    kind: str  # "session", "gap", "out_of_use", "band"
    column: int
    width: int
    start: int
    end: int
    obj: Any = None
    starts_at: dt.datetime | None = None
    cancelled_row: bool = False
    preferred: bool = False  # a free gap that begins at one of the day template's starts


@dataclass
class Lane:
    obj: Any
    items: list[Item] = field(default_factory=list)


def wall_minutes(instant: dt.datetime, day: dt.date, zone: ZoneInfo) -> int:
    """Minutes from local midnight of `day` to `instant`'s wall-clock time (negative before, past 1440 after)."""
    local = instant.astimezone(zone)
    return (local.date() - day).days * DAY_MINUTES + local.hour * 60 + local.minute


def _clock_minutes(clock: dt.time) -> int:
    return clock.hour * 60 + clock.minute


def make_axis(opening: tuple[dt.time, dt.time] | None, spans: Iterable[tuple[int, int]]) -> Axis:
    """Opening hours widened to whole hours and to any session outside them, within the day."""
    opens, closes = opening or FALLBACK_HOURS
    start, end = _clock_minutes(opens), _clock_minutes(closes)
    for first, last in spans:
        start, end = min(start, first), max(end, last)
    start = max(0, start // 60 * 60)
    end = min(DAY_MINUTES, math.ceil(end / 60) * 60)
    return Axis(start=start, end=max(end, start + 60))


def free_runs(starts: Sequence[dt.datetime], step: dt.timedelta) -> list[list[dt.datetime]]:
    """Free starts (sorted) grouped into runs one grid step apart: each run is one free gap."""
    runs: list[list[dt.datetime]] = []
    for start in starts:
        if runs and start - runs[-1][-1] <= step:
            runs[-1].append(start)
        else:
            runs.append([start])
    return runs


def split_at_preferred(
    run: Sequence[dt.datetime], preferred: frozenset[dt.time], zone: ZoneInfo
) -> list[tuple[list[dt.datetime], bool]]:
    """A run of free starts cut at each start of the day template (local wall clock): each piece
    is (its starts, whether it begins at a template start). The piece before a template start
    still offers its own starts, whose sessions may run past it."""
    pieces: list[tuple[list[dt.datetime], bool]] = []
    for start in run:
        at_template = start.astimezone(zone).time().replace(tzinfo=None) in preferred
        if at_template or not pieces:
            pieces.append(([start], at_template))
        else:
            pieces[-1][0].append(start)
    return pieces


@dataclass
class Grid:
    axis: Axis
    lanes: list[Lane]
    bands: list[Lane]  # closures and nurse shifts, one lane each
    load: list[dict[str, Any]]
    now_column: int | None


def build_grid(
    *,
    day: dt.date,
    zone: ZoneInfo,
    opening: tuple[dt.time, dt.time] | None,
    chairs: Sequence[Any],
    sessions: Sequence[Any],  # .chair_id, .starts_at, .ends_at, .blocking (bool)
    closures: Sequence[Any],  # .starts_at, .ends_at, .chair_id (None: the site's)
    shifts: Sequence[Any],  # .starts_at, .ends_at (nurses only)
    now: dt.datetime,
    free_starts: Mapping[int, Sequence[dt.datetime]],  # chair pk -> starts the free-slot search found
    gap_minutes: Mapping[int, int],  # chair pk -> minutes of the shortest session the chair can take
    step_minutes: int,
    max_patients_per_nurse: int,
    hands_on: Mapping[int, Sequence[tuple[dt.datetime, dt.datetime]]] | None = None,
    preferred_starts: Mapping[int, frozenset[dt.time]] | None = None,
) -> Grid:
    """The board's lanes and bands. Free gaps are not worked out here: they are the runs of
    `free_starts` (the engine's one free-slot search for a session of the chair's `gap_minutes`),
    each drawn from its first start to the end of a session at its last start. A closure of one
    chair (out of use for a while) is drawn in that chair's lane; the site's are bands.

    `hands_on` (nurse staff id -> the intervals of their sessions' setup, checks and discharge)
    marks each nurse's hands-on minutes on their shift band, after the band itself.

    `preferred_starts` (chair pk -> local start times of the site's day template) cuts a gap at
    each template start among its free starts; the piece from there is marked preferred."""

    def span(obj: Any) -> tuple[int, int]:
        return wall_minutes(obj.starts_at, day, zone), wall_minutes(obj.ends_at, day, zone)

    session_spans = {id(s): span(s) for s in sessions}
    axis = make_axis(opening, (session_spans[id(s)] for s in sessions if s.blocking))
    now_minute = wall_minutes(now, day, zone)

    by_chair: dict[int, list[Any]] = {}
    for session in sessions:
        by_chair.setdefault(session.chair_id, []).append(session)
    out_of_use: dict[int, list[Any]] = {}
    for closure in closures:
        if getattr(closure, "chair_id", None) is not None:
            out_of_use.setdefault(closure.chair_id, []).append(closure)

    lanes = []
    for chair in chairs:
        lane = Lane(obj=chair)
        for session in by_chair.get(chair.pk, []):
            first, last = session_spans[id(session)]
            placed = axis.place(first, last)
            if placed is None:
                continue
            lane.items.append(Item("session", *placed, first, last, obj=session, cancelled_row=not session.blocking))
        for closure in out_of_use.get(chair.pk, []):
            first, last = span(closure)
            placed = axis.place(first, last)
            if placed is not None:
                lane.items.append(Item("out_of_use", *placed, first, last, obj=closure))
        gap = dt.timedelta(minutes=gap_minutes.get(chair.pk, 0))
        template = (preferred_starts or {}).get(chair.pk, frozenset())
        for run in free_runs(free_starts.get(chair.pk, ()), dt.timedelta(minutes=step_minutes)):
            pieces = split_at_preferred(run, template, zone)
            for index, (starts, at_template) in enumerate(pieces):
                # A piece is drawn up to the next piece's start; the last to the end of a session at its last start.
                end = pieces[index + 1][0][0] if index + 1 < len(pieces) else starts[-1] + gap
                first, last = wall_minutes(starts[0], day, zone), wall_minutes(end, day, zone)
                placed = axis.place(first, last)
                if placed is not None:
                    lane.items.append(
                        Item("gap", *placed, first, last, starts_at=starts[0].astimezone(zone), preferred=at_template)
                    )
        lane.items.sort(key=lambda item: (item.cancelled_row, item.column))
        lanes.append(lane)

    bands = []
    site_closures = [closure for closure in closures if getattr(closure, "chair_id", None) is None]
    for kind, rows in (("closure", site_closures), ("shift", shifts)):
        for row in rows:
            first, last = span(row)
            placed = axis.place(first, last)
            if placed is None:
                continue
            band = Lane(obj=row, items=[Item(kind, *placed, first, last, obj=row)])
            if kind == "shift" and hands_on:
                for hands_start, hands_end in sorted(hands_on.get(row.staff_id, ())):
                    if hands_start < row.starts_at or hands_end > row.ends_at:
                        continue  # another shift's (a nurse may have two that day)
                    mark_first = wall_minutes(hands_start, day, zone)
                    mark_last = wall_minutes(hands_end, day, zone)
                    mark = axis.place(mark_first, mark_last)
                    if mark is not None:
                        band.items.append(
                            Item("hands", *mark, mark_first, mark_last, starts_at=hands_start.astimezone(zone))
                        )
            bands.append(band)

    load = []
    live = [session_spans[id(s)] for s in sessions if s.blocking]
    shift_spans = [span(s) for s in shifts]
    for hour in axis.hours():
        first = axis.start + (hour["column"] - 1) * SLOT_MINUTES
        last = first + hour["width"] * SLOT_MINUTES
        # The busiest moment of the hour against the fewest nurses on shift in it: the ratio that matters.
        peak = 0
        fewest: int | None = None
        for minute in range(first, last, SLOT_MINUTES):
            peak = max(peak, sum(a <= minute < b for a, b in live))
            on_shift = sum(a <= minute < b for a, b in shift_spans)
            fewest = on_shift if fewest is None else min(fewest, on_shift)
        fewest = fewest or 0
        load.append(
            {
                **hour,
                "sessions": peak,
                "nurses": fewest,
                "over": peak > fewest * max_patients_per_nurse,
            }
        )

    now_column = None
    if axis.start <= now_minute < axis.end:
        now_column = (now_minute - axis.start) // SLOT_MINUTES + 1
    return Grid(axis=axis, lanes=lanes, bands=bands, load=load, now_column=now_column)
