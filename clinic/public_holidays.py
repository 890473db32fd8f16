"""Public holidays as closures. A new site knows no holiday until someone types it in, and
courses were booked on Christmas Day; so each site is offered its country's and state's public
holidays (the `holidays` package) for the coming year, which a clinic administrator confirms in one
step. A holiday becomes a closure from local midnight to the next local midnight."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import holidays
from django.db import transaction
from django.db.models import Q

from clinic.models import Closure, Site

LOOKAHEAD = dt.timedelta(days=365)


@dataclass(frozen=True)
class PublicHoliday:
    day: dt.date
    name: str


def _local_midnight(day: dt.date, site: Site) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=site.zone)


def site_public_holidays(*, site: Site, first: dt.date, last: dt.date) -> list[PublicHoliday]:
    """The public holidays of the site's country (and subdivision, when set) from `first` to
    `last`, both included, in date order."""
    calendar = holidays.country_holidays(
        site.country, subdiv=site.subdivision or None, years=range(first.year, last.year + 1)
    )
    return [PublicHoliday(day, name) for day, name in sorted(calendar.items()) if first <= day <= last]


def site_public_holiday(*, site: Site, day: dt.date) -> PublicHoliday | None:
    found = site_public_holidays(site=site, first=day, last=day)
    return found[0] if found else None


def _closed_spans(*, site: Site, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The site's closures and the all-site ones that overlap `start` to `end`, by start (not a
    chair's: one chair out of use leaves the site open)."""
    return list(
        Closure.objects.filter(
            Q(site=site) | Q(site__isnull=True), chair__isnull=True, starts_at__lt=end, ends_at__gt=start
        )
        .order_by("starts_at")
        .values_list("starts_at", "ends_at")
    )


def spans_cover(spans: list[tuple[dt.datetime, dt.datetime]], start: dt.datetime, end: dt.datetime) -> bool:
    """Whether `spans` (sorted by start) together leave no gap from `start` to `end`: closures that
    close a day between them (a morning's and an afternoon's as well as one of the whole day)."""
    reached = start
    for span_start, span_end in spans:
        if span_start > reached:
            break
        reached = max(reached, span_end)
        if reached >= end:
            return True
    return reached >= end


def closed_all_day(*, site: Site, day: dt.date) -> bool:
    """Whether closures (the site's or all-site ones) cover the whole local day between them: a
    morning's and an afternoon's as well as one of the whole day."""
    return bool(days_closed_all_day(site=site, days=[day]))


def days_closed_all_day(*, site: Site, days: Iterable[dt.date]) -> set[dt.date]:
    """Of `days` (the site's local days), those its closures cover all day (closed_all_day), with
    their closures read in one query; none for no days."""
    wanted = sorted(set(days))
    if not wanted:
        return set()
    spans = _closed_spans(
        site=site,
        start=_local_midnight(wanted[0], site),
        end=_local_midnight(wanted[-1] + dt.timedelta(days=1), site),
    )
    return {
        day
        for day in wanted
        if spans_cover(spans, _local_midnight(day, site), _local_midnight(day + dt.timedelta(days=1), site))
    }


def site_holidays_to_close(*, site: Site, today: dt.date) -> list[PublicHoliday]:
    """The public holidays of the coming year (from `today`, for one year) the site is not yet
    closed for all day (closed_all_day, with the year's closures read at once), on a weekday it
    opens: a holiday on a Sunday the site never opens needs no closure."""
    open_weekdays = set(site.opening_hours.values_list("weekday", flat=True))
    found = [
        holiday
        for holiday in site_public_holidays(site=site, first=today, last=today + LOOKAHEAD - dt.timedelta(days=1))
        if holiday.day.weekday() in open_weekdays
    ]
    return _not_closed(site=site, found=found)


def unclosed_public_holidays(*, site: Site, days: Iterable[dt.date]) -> dict[dt.date, PublicHoliday]:
    """Of `days` (the site's local days), those that are public holidays the site is not closed for
    all day, each with its holiday: the pages that propose or list times warn of them, as the board
    does of sessions booked on one. One query at most, whatever the number of days."""
    wanted = set(days)
    if not wanted:
        return {}
    found = [
        holiday
        for holiday in site_public_holidays(site=site, first=min(wanted), last=max(wanted))
        if holiday.day in wanted
    ]
    return {holiday.day: holiday for holiday in _not_closed(site=site, found=found)}


def _not_closed(*, site: Site, found: list[PublicHoliday]) -> list[PublicHoliday]:
    """Of the public holidays `found` (in date order), those the site is not closed for all day
    (closed_all_day, with their closures read at once)."""
    closed = days_closed_all_day(site=site, days=[holiday.day for holiday in found])
    return [holiday for holiday in found if holiday.day not in closed]


def site_holidays_close(*, site: Site, today: dt.date, days: Collection[dt.date] | None = None) -> list[Closure]:
    """Adds an all-day closure for each public holiday of the coming year the site is not closed
    for (of those on `days` only, when given: the ones an administrator ticked). Run twice, the
    second run adds nothing."""
    with transaction.atomic():
        Site.objects.select_for_update().get(pk=site.pk)  # two admins clicking at once add each day once
        return [
            Closure.objects.create(
                site=site,
                reason=holiday.name,
                starts_at=_local_midnight(holiday.day, site),
                ends_at=_local_midnight(holiday.day + dt.timedelta(days=1), site),
            )
            for holiday in site_holidays_to_close(site=site, today=today)
            if days is None or holiday.day in days
        ]
