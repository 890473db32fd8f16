"""The clinical range every incoming date goes through, for the API and the pages alike: a year
9999 day overflows date arithmetic (a 500) and a year 1900 one is a typo. Birth dates reach
further back (the Patient model's own check starts after 1900-01-01)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.exceptions import BadRequest

from clinic.errors import InvalidInput

CLINICAL_EARLIEST = dt.date(2000, 1, 1)
CLINICAL_LATEST = dt.date(2100, 12, 31)
BIRTH_EARLIEST = dt.date(1900, 1, 2)


def range_message(earliest: dt.date = CLINICAL_EARLIEST, latest: dt.date = CLINICAL_LATEST) -> str:
    return f"Must be between {earliest.isoformat()} and {latest.isoformat()}."


def in_range(value: dt.date, *, earliest: dt.date = CLINICAL_EARLIEST, latest: dt.date = CLINICAL_LATEST) -> bool:
    """Whether a date, or a datetime's UTC day, lies in the range."""
    try:
        day = value.astimezone(dt.UTC).date() if isinstance(value, dt.datetime) else value
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last datetime Python can hold
        return False
    return earliest <= day <= latest


def query_day(raw: str | None, fallback: dt.date) -> dt.date:
    """A `?day=` (or similar) query parameter: empty means `fallback`; a malformed day or one out
    of the clinical range is a bad request (400), never a crash further down."""
    if not raw:
        return fallback
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise BadRequest("The day must be written YYYY-MM-DD.") from None
    if not in_range(day):
        raise BadRequest("The day " + range_message()[0].lower() + range_message()[1:])
    return day


def require_clinical_dates(**dates: dt.date | None) -> None:
    """For services: refuse a date outside the clinical range whoever calls (a page, the API, a script)."""
    for name, value in dates.items():
        if value is not None and not in_range(value):
            label = name.replace("_", " ").capitalize()
            raise InvalidInput(f"{label}: {range_message().lower()}", details={"field": name})


def birth_date_problem(born: dt.date, *, zone: str, now: dt.datetime) -> str | None:
    """What is wrong with a date of birth, or None. "The future" is after today where the patient
    lives (`zone`: their own time zone, else their home site's), not in UTC: in the evening in New
    York UTC is already on tomorrow, and in the morning in Auckland still on yesterday. An unknown
    zone (its own field reports it) falls back to UTC."""
    try:
        where = zoneinfo.ZoneInfo(zone) if zone else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        where = dt.UTC
    today = now.astimezone(where).date()
    if born > today:
        return f"Date of birth cannot be in the future (today is {today:%-d %b %Y} where the patient lives)."
    return None
