"""An inline SVG line chart computed in plain Python; the template only draws it.

Time runs left to right on a true time scale, so gaps between questionnaires show; sessions
that took place are ticks under the plot; horizontal guides mark the severity bands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

WIDTH = 640
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 12, 34
TICK_LENGTH = 8


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    value: int
    when: dt.datetime


@dataclass(frozen=True)
class Guide:
    y: float
    value: int
    label: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    points: list[ChartPoint]
    polyline: str
    session_ticks: list[float]
    guides: list[Guide]
    first_day: dt.date
    last_day: dt.date
    y_max: int

    @property
    def plot_middle(self) -> float:
        return (self.plot_left + self.plot_right) / 2

    @property
    def tick_bottom(self) -> int:
        return self.plot_bottom + TICK_LENGTH


def line_chart(
    *,
    values: Sequence[tuple[dt.datetime, int]],
    y_max: int,
    session_times: Sequence[dt.datetime],
    zone: ZoneInfo,
    guides: Sequence[tuple[int, str]] = (),
) -> LineChart | None:
    """The chart of `values` (aware times) on an axis of whole local days in `zone`, the site's:
    from the midnight that starts the first score's day to the one that ends the last score's day,
    so a score at 21:00 on 3 Dec sits inside 3 Dec even where UTC already says 4 Dec."""
    if not values:
        return None
    times = [when for when, _ in values]
    first_day, last_day = min(times).astimezone(zone).date(), max(times).astimezone(zone).date()
    # Sessions outside the scored span would squash the scores into a corner; show those inside.
    sessions = [t for t in session_times if min(times) - dt.timedelta(days=1) <= t <= max(times) + dt.timedelta(days=1)]
    # In UTC: two datetimes sharing one ZoneInfo subtract on the wall clock, so a day the clocks
    # change would count 24 hours instead of its 23 or 25, and points would land off their time.
    start = dt.datetime.combine(first_day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    span = (end - start).total_seconds()
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM

    def x_of(when: dt.datetime) -> float:
        fraction = min(max((when.astimezone(dt.UTC) - start).total_seconds() / span, 0.0), 1.0)
        return round(LEFT + fraction * plot_width, 1)

    def y_of(value: int) -> float:
        return round(TOP + plot_height * (1 - value / y_max), 1)

    points = [ChartPoint(x_of(when), y_of(value), value, when) for when, value in sorted(values, key=lambda v: v[0])]
    return LineChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=HEIGHT - BOTTOM,
        points=points,
        polyline=" ".join(f"{p.x},{p.y}" for p in points),
        session_ticks=[x_of(t) for t in sessions],
        guides=[Guide(y_of(value), value, label) for value, label in guides if 0 < value < y_max],
        first_day=first_day,
        last_day=last_day,
        y_max=y_max,
    )
