"""$find's `timing` (a FHIR Timing) as the engine's Preferences: the weekdays and the stretch of
the day a session may start in, on the site's wall clock, plus an optional boundsPeriod that
narrows the search window. Every other part of a Timing is refused (not-supported), never
silently ignored.

What is read, and how:
- repeat.dayOfWeek (mon..sun): sessions start only on those weekdays;
- repeat.timeOfDay (one value): sessions start at or after that wall-clock time;
- repeat.when (EventTiming MORN, AFT, EVE and their .early/.late, NOON): sessions start within
  the clinic's stretch for that code (WHEN_STARTS); several codes must join into one stretch;
- repeat.boundsPeriod: the search window is cut to it (start and end of $find still apply); a
  date there is a calendar day at the site (a month or a year: all its days), the end's included.
Refused: event, code, modifierExtension, boundsDuration, boundsRange, count, countMax, duration,
durationMax, durationUnit, frequency, frequencyMax, period, periodMax, periodUnit, offset, and
the when codes tied to meals or sleep (C, AC, PC, HS, WAKE, PHS, ...) and NIGHT."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B.timing import Timing

from interop.fhir.outcome import FHIRError, invalid, not_supported
from interop.fhir.params import parse_when
from scheduling.engine import Preferences
from scheduling.engine.wallclock import day_bounds

DAYS_OF_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()

# The clinic's convention for the parts of the day (EventTiming leaves the hours to the
# institution): [first start, last start] on the site's wall clock.
WHEN_STARTS: dict[str, tuple[dt.time, dt.time]] = {
    "MORN": (dt.time(0, 0), dt.time(11, 59)),
    "MORN.early": (dt.time(0, 0), dt.time(9, 59)),
    "MORN.late": (dt.time(10, 0), dt.time(11, 59)),
    "NOON": (dt.time(12, 0), dt.time(12, 59)),
    "AFT": (dt.time(12, 0), dt.time(16, 59)),
    "AFT.early": (dt.time(12, 0), dt.time(14, 59)),
    "AFT.late": (dt.time(15, 0), dt.time(16, 59)),
    "EVE": (dt.time(17, 0), dt.time(20, 59)),
    "EVE.early": (dt.time(17, 0), dt.time(18, 59)),
    "EVE.late": (dt.time(19, 0), dt.time(20, 59)),
}

_TIMING_PARTS = {"id", "extension", "repeat"}
_REPEAT_PARTS = {"id", "extension", "dayOfWeek", "timeOfDay", "when", "boundsPeriod"}


@dataclass(frozen=True)
class TimingWish:
    """What a Timing asks of the times offered."""

    weekdays: frozenset[int] = frozenset(range(7))
    earliest: dt.time | None = None  # earliest local start
    latest: dt.time | None = None  # latest local start
    not_before: dt.datetime | None = None  # boundsPeriod.start
    not_after: dt.datetime | None = None  # boundsPeriod.end: every session ends by then
    # boundsPeriod edges given as dates: calendar days at the site, the end's day included (a FHIR
    # Period), made instants by `at` once the site is known.
    first_day: dt.date | None = None
    last_day: dt.date | None = None

    def at(self, zone: ZoneInfo) -> TimingWish:
        """The wish read at a site in `zone`: a boundsPeriod start date from its local midnight, an
        end date to the end of that local day."""
        return dataclasses.replace(
            self,
            not_before=day_bounds(self.first_day, zone)[0] if self.first_day else self.not_before,
            not_after=day_bounds(self.last_day, zone)[1] if self.last_day else self.not_after,
        )

    def preferences(self, base: Preferences | None = None) -> Preferences:
        """The engine's Preferences for this wish, within `base` (a plan's own, say) if given."""
        base = base or Preferences()
        earliest = max((t for t in (base.earliest, self.earliest) if t is not None), default=None)
        latest = min((t for t in (base.latest, self.latest) if t is not None), default=None)
        return Preferences(weekdays=base.weekdays & self.weekdays, earliest=earliest, latest=latest)

    def window(self, start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) cut to the boundsPeriod."""
        return max(start, self.not_before or start), min(end, self.not_after or end)

    def describe(self) -> str:
        parts = []
        if self.weekdays != frozenset(range(7)):
            parts.append("on " + ", ".join(DAYS_OF_WEEK[d].capitalize() for d in sorted(self.weekdays)))
        if self.earliest is not None and self.latest is not None:
            parts.append(f"starting {self.earliest:%H:%M}–{self.latest:%H:%M}")
        elif self.earliest is not None:
            parts.append(f"starting at or after {self.earliest:%H:%M}")
        elif self.latest is not None:
            parts.append(f"starting by {self.latest:%H:%M}")
        if self.not_before is not None or self.not_after is not None:
            parts.append(
                "within "
                + (self.not_before.isoformat() if self.not_before else "…")
                + " – "
                + (self.not_after.isoformat() if self.not_after else "…")
            )
        return "; ".join(parts) or "any time"


def timing_wish(values: list[Any]) -> TimingWish | None:
    """The wish of $find's `timing` parameter (at most one, a Timing), or None without one."""
    if not values:
        return None
    if len(values) > 1:
        raise invalid("timing: give at most one Timing.")
    value = values[0]
    if isinstance(value, str):
        raise not_supported("timing is a Timing: send it in a POST Parameters body as valueTiming.")
    if not isinstance(value, Timing):
        raise invalid("timing: expected a valueTiming.")
    data = json.loads(value.model_dump_json())
    _refuse_unknown(data, _TIMING_PARTS, "timing")
    repeat = data.get("repeat") or {}
    _refuse_unknown(repeat, _REPEAT_PARTS, "timing.repeat")
    parsed = value.repeat
    if parsed is None:
        return TimingWish()
    weekdays = frozenset(range(7))
    if parsed.dayOfWeek:
        weekdays = frozenset(DAYS_OF_WEEK.index(day) for day in parsed.dayOfWeek)
    earliest: dt.time | None = None
    latest: dt.time | None = None
    if parsed.when:
        earliest, latest = _when_stretch([str(code) for code in parsed.when])
    if parsed.timeOfDay:
        if len(parsed.timeOfDay) > 1:
            raise not_supported(
                "timing.repeat.timeOfDay: give one time, read as the earliest local start; several exact times "
                "are not supported."
            )
        at = _as_time(parsed.timeOfDay[0])
        earliest = at if earliest is None else max(earliest, at)
    wish = TimingWish(weekdays, earliest, latest)
    if parsed.boundsPeriod is not None:
        bounds = parsed.boundsPeriod
        first_day, not_before = _edge(bounds.start, name="timing.repeat.boundsPeriod.start")
        last_day, not_after = _edge(bounds.end, name="timing.repeat.boundsPeriod.end", closing=True)
        wish = TimingWish(weekdays, earliest, latest, not_before, not_after, first_day, last_day)
        # Checked in UTC (a site's zone moves both edges alike, give or take a clock change).
        in_utc = wish.at(ZoneInfo("UTC"))
        if in_utc.not_before is not None and in_utc.not_after is not None and in_utc.not_after <= in_utc.not_before:
            raise invalid("timing.repeat.boundsPeriod: end must be after start.")
    return wish


def _edge(value: Any, *, name: str, closing: bool = False) -> tuple[dt.date | None, dt.datetime | None]:
    """A boundsPeriod edge: (a calendar day, read at the site later; or None) and (an instant, or None).
    A month or a year is its first day, or its last as the `closing` (end) edge."""
    if value is None:
        return None, None
    when = parse_when(value, name=name, closing=closing)
    return (None, when) if isinstance(when, dt.datetime) else (when, None)


def _refuse_unknown(data: dict[str, Any], allowed: set[str], where: str) -> None:
    # "_x" holds extensions of the primitive x: understood when x is.
    unknown = sorted(key for key in data if key.removeprefix("_") not in allowed)
    if unknown:
        raise not_supported(
            f"{where}: {', '.join(unknown)} not supported; $find understands timing.repeat.dayOfWeek, timeOfDay "
            "(one: the earliest start), when (MORN, NOON, AFT, EVE and their .early/.late) and boundsPeriod."
        )


def _when_stretch(codes: list[str]) -> tuple[dt.time, dt.time]:
    unknown = sorted(code for code in set(codes) if code not in WHEN_STARTS)
    if unknown:
        raise not_supported(f"timing.repeat.when: {', '.join(unknown)} not supported; use {', '.join(WHEN_STARTS)}.")
    stretches = sorted({WHEN_STARTS[code] for code in codes})
    first, last = stretches[0]
    for start, end in stretches[1:]:
        if _minute(start) > _minute(last) + 1:
            raise not_supported(
                "timing.repeat.when: the codes must join into one stretch of the day (e.g. MORN and AFT, "
                "not MORN.early and AFT)."
            )
        last = max(last, end)
    return first, last


def _minute(clock: dt.time) -> int:
    return clock.hour * 60 + clock.minute


def _as_time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None)
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError as exc:
        raise FHIRError(400, "invalid", f"timing.repeat.timeOfDay: {value!r} is not a time.") from exc
