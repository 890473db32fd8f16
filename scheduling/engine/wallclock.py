"""Site wall-clock time to UTC instants, with the daylight-saving corners
handled on purpose.

Sessions are planned in the site's local time: a 10:00 session stays at 10:00
local across a clock change. On the spring-forward day a local time inside the
gap (02:30 in New York) does not exist: we return None and the planner skips
that start. On the fall-back day a time that occurs twice (01:30) means its
first occurrence (fold=0), the earlier instant, so nobody arrives an hour late.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

UTC = dt.UTC


def local_instant(day: dt.date, clock: dt.time, zone: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of `clock` on `day` in `zone`, or None if that wall time does not exist."""
    naive = dt.datetime.combine(day, clock)
    candidate = naive.replace(tzinfo=zone, fold=0)
    as_utc = candidate.astimezone(UTC)
    # A nonexistent wall time does not survive the round trip to UTC and back.
    if as_utc.astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return as_utc


def opening_instant(day: dt.date, clock: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of an opening or closing time `clock` on `day` in `zone`. A wall time the
    clocks skip (02:30 on the spring night in New York) is the moment they jump: the site opens,
    or closes, when the clock first shows a time at or after it (03:00 EDT)."""
    found = local_instant(day, clock, zone)
    if found is not None:
        return found
    # Inside the gap: fold 1 reads the time with the offset after the jump (an instant before
    # it), fold 0 with the offset before (after it); the jump lies between, on a whole minute.
    naive = dt.datetime.combine(day, clock)
    instant = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    later = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    instant = instant.replace(second=0, microsecond=0)
    while instant < later and instant.astimezone(zone).replace(tzinfo=None) < naive:
        instant += dt.timedelta(minutes=1)
    return instant


def local_day(instant: dt.datetime, zone: ZoneInfo) -> dt.date:
    return instant.astimezone(zone).date()


def day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants of local midnight to the next local midnight (23 or 25 hours on change days)."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(UTC)
    return start, end


# A shift that ends on a later local day than it starts ends, on the clock of its own day, here.
LAST_MINUTE = dt.time(23, 59)


def shift_hours(starts_at: dt.datetime, ends_at: dt.datetime, zone: ZoneInfo) -> tuple[dt.time, dt.time]:
    """A shift's local wall-clock hours, as the day template records a typical day's shifts and
    as its starts name a nurse's shift: the start, and the end on the same local day, or 23:59
    for a shift that runs past midnight; to the minute (seconds dropped, as the template writes
    them), so a shift entered as 07:00:30 is still the 07:00 shift its starts name."""
    local_start, local_end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    end = local_end.time() if local_end.date() == local_start.date() else LAST_MINUTE
    start = local_start.time()
    return (
        start.replace(second=0, microsecond=0, tzinfo=None),
        end.replace(second=0, microsecond=0, tzinfo=None),
    )
