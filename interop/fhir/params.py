"""Reading FHIR search and operation parameters: dates with prefixes, references, counts."""

from __future__ import annotations

import calendar
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
# How many free times $find works out at most, to count those that fit and say which come next.
FIND_SCAN_LIMIT = 1000
# While none of them fits the patient's rules, $find checks the next FIND_SCAN_LIMIT, up to this many
# stretches in one request (its work stays bounded), so a page is rarely empty with a next link.
FIND_SCAN_ROUNDS = 4
DEFAULT_COUNT = 20
# A FHIR date at any precision it allows, populated from the left: a year, a month or a day.
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def require_in_range(when: dt.datetime | dt.date, *, name: str, earliest: dt.date = CLINICAL_EARLIEST) -> None:
    """Every date the server takes lies in the clinical range (from `earliest` for birth dates), as
    on the pages and the API: a year 1850 or 2150 is a typo, not an empty search or a conflict."""
    if not in_range(when, earliest=earliest):
        raise invalid(f"{name}: {range_message(earliest, CLINICAL_LATEST)}")


def date_span(text: str, *, name: str, earliest: dt.date = CLINICAL_EARLIEST) -> tuple[dt.date, dt.date] | None:
    """The calendar days [first, after) a FHIR date stands for: a day (YYYY-MM-DD), or the whole month
    (YYYY-MM) or year (YYYY), as FHIR search reads a date of lower precision; None when `text` is not a
    date (a dateTime). Invalid when none of its days lies in the clinical range (from `earliest`)."""
    match = _DATE.match(text)
    if match is None:
        return None
    year_text, month_text, day_text = match.groups()
    year = int(year_text)
    try:
        if day_text is not None:
            first = last = dt.date(year, int(month_text), int(day_text))
        elif month_text is not None:
            month = int(month_text)
            first = dt.date(year, month, 1)
            last = dt.date(year, month, calendar.monthrange(year, month)[1])
        else:
            first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    except ValueError as exc:
        raise invalid(f"{name}: {text!r} is not a FHIR date or dateTime.") from exc
    # A month or a year that only starts before the range (birth dates from 1900-01-02) still holds days in it.
    if last < earliest or first > CLINICAL_LATEST:
        raise invalid(f"{name}: {range_message(earliest, CLINICAL_LATEST)}")
    return first, last + dt.timedelta(days=1)


def parse_instant(value: str, *, name: str, earliest: dt.date = CLINICAL_EARLIEST) -> tuple[dt.datetime, dt.datetime]:
    """The range [lower, upper) a FHIR date or dateTime value stands for. A date (a day, a month or a
    year) is here its whole UTC days (callers that know the site read it there: `parse_when`,
    `DateCondition.in_zone`); a dateTime without a zone is read as UTC. Out of the clinical range
    (from `earliest`): invalid."""
    # A "+" of an offset that the client forgot to escape in a query string arrives as a space.
    text = value.strip().replace(" ", "+")
    days = date_span(text, name=name, earliest=earliest)
    if days is not None:
        first, after = days
        return dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC), dt.datetime.combine(
            after, dt.time(), tzinfo=dt.UTC
        )
    try:
        instant = dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError) as exc:
        raise invalid(f"{name}: {value!r} is not a FHIR date or dateTime.") from exc
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    require_in_range(instant, name=name, earliest=earliest)
    return instant, instant + dt.timedelta(microseconds=1)


def parse_when(value: object, *, name: str, closing: bool = False) -> dt.datetime | dt.date:
    """A FHIR dateTime (an instant; read as UTC without a zone) or date, as text or as fhir.resources
    read it. A date is a calendar day at the clinic: where it begins depends on the site's zone
    (`at_zone`), not on UTC's. A month (YYYY-MM) or a year (YYYY) stands for its first day, or, as the
    `closing` edge of a Period (whose end it includes), for its last."""
    if isinstance(value, dt.datetime):
        return as_instant(value, name=name)
    if isinstance(value, dt.date):
        require_in_range(value, name=name)
        return value
    if not isinstance(value, str):
        raise invalid(f"{name}: give a dateTime or a date.")
    text = value.strip()
    days = date_span(text, name=name)
    if days is not None:
        first, after = days
        return after - dt.timedelta(days=1) if closing else first
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
    # For a date without a time: its calendar days [first, after), one day, a month or a year
    # (`lower`/`upper` are then their UTC days).
    days: tuple[dt.date, dt.date] | None = None

    def in_zone(self, zone: ZoneInfo) -> DateCondition:
        """The condition with calendar days read as those days in `zone`."""
        if self.days is None:
            return self
        first, after = self.days
        return DateCondition(self.prefix, day_bounds(first, zone)[0], day_bounds(after, zone)[0], self.days)

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
    """A date search value: its prefix and the range [lower, upper) its value stands for, at the
    precision given (a year, a month, a day, an instant). The prefixes compare that range with the
    searched instant or day as FHIR R4 search says: eq within it, ge/le from its start/to its end,
    gt/lt after its end/before its start."""
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    if prefix not in ("eq", "ge", "gt", "le", "lt"):
        raise invalid(f"{name}: the prefix {prefix!r} is not supported; use eq, ge, gt, le or lt.")
    rest = value[2:] if value[:2] in PREFIXES else value
    lower, upper = parse_instant(rest, name=name, earliest=earliest)
    days = date_span(rest.strip(), name=name, earliest=earliest)
    return DateCondition(prefix, lower, upper, days)


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
