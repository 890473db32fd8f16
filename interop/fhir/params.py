"""Reading FHIR search and operation parameters: dates with prefixes, references, counts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from clinic.dates import CLINICAL_EARLIEST, CLINICAL_LATEST, in_range, range_message
from interop.fhir.outcome import invalid
from scheduling.engine.wallclock import day_bounds

PREFIXES = ("eq", "ne", "ge", "gt", "le", "lt", "sa", "eb", "ap")
MAX_COUNT = 100
DEFAULT_COUNT = 20
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def require_in_range(when: dt.datetime | dt.date, *, name: str, earliest: dt.date = CLINICAL_EARLIEST) -> None:
    """Every date the server takes lies in the clinical range (from `earliest` for birth dates), as
    on the pages and the API: a year 1850 or 2150 is a typo, not an empty search or a conflict."""
    if not in_range(when, earliest=earliest):
        raise invalid(f"{name}: {range_message(earliest, CLINICAL_LATEST)}")


def parse_instant(value: str, *, name: str, earliest: dt.date = CLINICAL_EARLIEST) -> tuple[dt.datetime, dt.datetime]:
    """The range [lower, upper) a FHIR date or dateTime value stands for. A date is here the whole
    UTC day (callers that know the site read it there: `parse_when`, `DateCondition.in_zone`); a
    dateTime without a zone is read as UTC. Out of the clinical range (from `earliest`): invalid."""
    # A "+" of an offset that the client forgot to escape in a query string arrives as a space.
    text = value.strip().replace(" ", "+")
    try:
        if _DATE.match(text):
            day = dt.date.fromisoformat(text)
            require_in_range(day, name=name, earliest=earliest)
            lower = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return lower, lower + dt.timedelta(days=1)
        instant = dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError) as exc:
        raise invalid(f"{name}: {value!r} is not a FHIR date or dateTime.") from exc
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    require_in_range(instant, name=name, earliest=earliest)
    return instant, instant + dt.timedelta(microseconds=1)


def parse_when(value: object, *, name: str) -> dt.datetime | dt.date:
    """A FHIR dateTime (an instant; read as UTC without a zone) or date, as text or as fhir.resources
    read it. A date is a calendar day at the clinic: where it begins depends on the site's zone
    (`at_zone`), not on UTC's."""
    if isinstance(value, dt.datetime):
        return as_instant(value, name=name)
    if isinstance(value, dt.date):
        require_in_range(value, name=name)
        return value
    if not isinstance(value, str):
        raise invalid(f"{name}: give a dateTime or a date.")
    text = value.strip()
    if _DATE.match(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise invalid(f"{name}: {value!r} is not a FHIR date or dateTime.") from exc
        require_in_range(day, name=name)
        return day
    return parse_instant(text, name=name)[0]


def at_zone(when: dt.datetime | dt.date, zone: ZoneInfo) -> dt.datetime:
    """An instant as it is; a calendar day as its local midnight in `zone`."""
    if isinstance(when, dt.datetime):
        return when
    return day_bounds(when, zone)[0]


def zone_of(zones: Iterable[ZoneInfo]) -> ZoneInfo:
    """The zone a calendar day is read in when several sites answer: the one they share, else UTC
    (a day then means the UTC day; the CapabilityStatement says so)."""
    distinct = set(zones)
    return distinct.pop() if len(distinct) == 1 else ZoneInfo("UTC")


def as_instant(value: dt.datetime | dt.date | str, *, name: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        require_in_range(instant, name=name)
        return instant
    if isinstance(value, dt.date):
        require_in_range(value, name=name)
        return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    return parse_instant(value, name=name)[0]


@dataclass(frozen=True)
class DateCondition:
    prefix: str
    lower: dt.datetime
    upper: dt.datetime
    # For a date without a time: the calendar day (`lower`/`upper` are then its UTC day).
    day: dt.date | None = None

    def in_zone(self, zone: ZoneInfo) -> DateCondition:
        """The condition with a calendar day read as that day in `zone`."""
        if self.day is None:
            return self
        lower, upper = day_bounds(self.day, zone)
        return DateCondition(self.prefix, lower, upper, self.day)

    def lookups(self, field: str) -> dict[str, dt.datetime]:
        if self.prefix == "eq":
            return {f"{field}__gte": self.lower, f"{field}__lt": self.upper}
        if self.prefix == "ge":
            return {f"{field}__gte": self.lower}
        if self.prefix == "gt":
            return {f"{field}__gte": self.upper}
        if self.prefix == "le":
            return {f"{field}__lt": self.upper}
        return {f"{field}__lt": self.lower}  # lt


def date_condition(value: str, *, name: str, earliest: dt.date = CLINICAL_EARLIEST) -> DateCondition:
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    if prefix not in ("eq", "ge", "gt", "le", "lt"):
        raise invalid(f"{name}: the prefix {prefix!r} is not supported; use eq, ge, gt, le or lt.")
    rest = value[2:] if value[:2] in PREFIXES else value
    lower, upper = parse_instant(rest, name=name, earliest=earliest)
    day = lower.date() if _DATE.match(rest.strip()) else None
    return DateCondition(prefix, lower, upper, day)


def row_number(text: str) -> int | None:
    """`text` as a row id of ours: ASCII digits (int() also takes "٣" and fails on "²"), at most 18
    of them (a bigint); None otherwise."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def count_of(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_COUNT
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
        raise invalid("_count must be a whole number.")
    return min(int(raw), MAX_COUNT)


def offset_of(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise invalid("_offset must be a whole number.")
    return int(raw)


def reference_id(value: str, resource_type: str, *, name: str, prefix: str = "") -> int:
    """The numeric id in `value`, a reference `Type/[prefix]id` (or a bare id): 400 otherwise."""
    text = value.strip()
    if "/" in text:
        kind, _, text = text.rpartition("/")
        if kind.rsplit("/", 1)[-1] != resource_type:
            raise invalid(f"{name}: expected a reference to {resource_type}, got {value!r}.")
    if prefix:
        if not text.startswith(prefix):
            raise invalid(f"{name}: expected {resource_type}/{prefix}<id>, got {value!r}.")
        text = text[len(prefix) :]
    number = row_number(text)
    if number is None:
        raise invalid(f"{name}: {value!r} is not a {resource_type} id of ours.")
    return number


def location_ids(values: list[str], *, name: str) -> tuple[set[int], set[int]]:
    """Site ids and chair ids from Location references (Location/site-1, Location/chair-4)."""
    sites: set[int] = set()
    chairs: set[int] = set()
    for value in values:
        for part in value.split(","):
            local = part.strip().rpartition("/")[2]
            if local.startswith("site-"):
                sites.add(reference_id(part, "Location", name=name, prefix="site-"))
            elif local.startswith("chair-"):
                chairs.add(reference_id(part, "Location", name=name, prefix="chair-"))
            else:
                raise invalid(f"{name}: {part!r} is not one of our Locations (Location/site-<id> or chair-<id>).")
    return sites, chairs
