"""Dates as the pages write them: a day in another year than this one shows its year, so
"Fri 1 Jan" is never read as the coming New Year's Day when it is 9999's."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import dateformat, timezone
from django.utils.timezone import template_localtime

register = template.Library()


@register.filter
def with_year(value: dt.date | dt.datetime | None, format_string: str = "D j M") -> str:
    """`{{ day|with_year:"D j M" }}`: the date filter's format, plus the year when it is not this year."""
    if value in (None, ""):
        return ""
    if isinstance(value, dt.datetime):
        value = template_localtime(value)  # as the date filter does: honours a |timezone: before it
    if value.year == timezone.localdate().year or "Y" in format_string:
        return dateformat.format(value, format_string)
    # The year goes after the day, before a time of day: "Fri 1 Jan 2027 10:00".
    day_part, _, time_part = format_string.partition(" H")
    text = f"{dateformat.format(value, day_part)} {value.year}"
    return f"{text} {dateformat.format(value, 'H' + time_part)}" if time_part else text
