"""The closures a page of chairs or sites shows through FHIR, read in one query per page: the chair's
Location says whether it is out of use now, its Schedule lists the periods ahead, a site's Location
whether the whole site is closed now. The engine keeps the same three kinds of closure from being
booked (scheduling.selectors): a chair's own (out of use), its site's, one for every site."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Q

from clinic.models import Chair, Closure, Site

# How far ahead a chair's Schedule lists its out-of-use periods: as far as one Slot search reaches.
SCHEDULE_HORIZON_DAYS = 31


class Scope(StrEnum):
    CHAIR = "chair"  # this chair out of use, the rest of its site open
    SITE = "site"  # its site closed
    EVERY_SITE = "every site"  # a closure with no site: every site closed


@dataclass(frozen=True)
class Period:
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    scope: Scope

    def covers(self, now: dt.datetime) -> bool:
        # Half-open, as the engine reads a closure: closed from its start, open again at its end.
        return self.starts_at <= now < self.ends_at


def _scope(site_id: int | None, chair_id: int | None) -> Scope:
    if chair_id is not None:
        return Scope.CHAIR
    return Scope.SITE if site_id is not None else Scope.EVERY_SITE


def chair_periods(chairs: Iterable[Chair], *, now: dt.datetime, until: dt.datetime) -> dict[int, list[Period]]:
    """Chair id -> the periods that close it between `now` and `until` (its own, its site's, every
    site's), by start; one query for all the chairs."""
    chairs = list(chairs)
    found: dict[int, list[Period]] = {chair.pk: [] for chair in chairs}
    if not chairs:
        return found
    site_ids = {chair.site_id for chair in chairs}
    rows = (
        Closure.objects.filter(
            Q(chair_id__in=list(found)) | Q(chair__isnull=True, site_id__in=site_ids) | Q(site__isnull=True),
            starts_at__lt=until,
            ends_at__gt=now,
        )
        .order_by("starts_at", "ends_at", "pk")
        .values_list("site_id", "chair_id", "starts_at", "ends_at", "reason")
    )
    by_site: dict[int, list[Chair]] = {}
    for chair in chairs:
        by_site.setdefault(chair.site_id, []).append(chair)
    for site_id, chair_id, starts_at, ends_at, reason in rows:
        period = Period(starts_at, ends_at, reason, _scope(site_id, chair_id))
        if chair_id is not None:
            found[chair_id].append(period)
            continue
        for chair in by_site.get(site_id, []) if site_id is not None else chairs:
            found[chair.pk].append(period)
    return found


def chairs_closed(chairs: Iterable[Chair], *, now: dt.datetime) -> set[int]:
    """The ids of those `chairs` a closure covers at `now` (out of use, or their site closed); one query."""
    # A microsecond is the smallest step the database keeps: starting before it is starting by `now`.
    periods = chair_periods(chairs, now=now, until=now + dt.timedelta(microseconds=1))
    return {chair_id for chair_id, found in periods.items() if any(period.covers(now) for period in found)}


def sites_closed(sites: Iterable[Site], *, now: dt.datetime) -> set[int]:
    """The ids of those `sites` a closure of the whole site (its own or every site's) covers at
    `now`; one query. A chair out of use leaves its site open."""
    site_ids = [site.pk for site in sites]
    if not site_ids:
        return set()
    rows = Closure.objects.filter(
        Q(site_id__in=site_ids) | Q(site__isnull=True), chair__isnull=True, starts_at__lte=now, ends_at__gt=now
    ).values_list("site_id", flat=True)
    closed: set[int] = set()
    for site_id in rows:
        if site_id is None:
            return set(site_ids)
        closed.add(site_id)
    return closed
