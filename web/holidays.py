"""The public holidays a site is not yet closed for, offered to clinic administrators as
closures they add in one step (clinic.public_holidays); the sessions already booked on them are
counted for the administrator, as the admin counts those a closure leaves to move."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clinic.models import Closure, Site
from clinic.public_holidays import site_holidays_close, site_holidays_to_close
from scheduling.admin import warn_sessions_to_move
from scheduling.engine.wallclock import local_day
from scheduling.models import UPCOMING_STATUSES, Appointment
from web.access import page_required
from web.desk import _pick_site, sites_for


@require_http_methods(["GET", "POST"])
@page_required("site_holidays")
def site_holidays(request: HttpRequest) -> HttpResponse:
    sites = sites_for(request.staff)  # type: ignore[attr-defined]
    site = _pick_site(request, sites)
    now = timezone.now()
    today = local_day(now, site.zone)
    if request.method == "POST":
        chosen = _chosen_days(request)
        if chosen is not None and not chosen:
            messages.info(request, "No public holiday was ticked: no closure added.")
            return redirect(f"{request.path}?site={site.pk}")
        added = site_holidays_close(site=site, today=today, days=chosen)
        if added:
            count = len(added)
            messages.success(
                request,
                f"{count} public holiday{' added as a closure' if count == 1 else 's added as closures'} at {site.name}.",
            )
            # Booking checks the set-up of the moment: sessions booked on those days stay until moved.
            if starts := _sessions_inside(site=site, closures=added, now=now):
                warn_sessions_to_move(
                    request,
                    site=site,
                    starts=starts,
                    why=("falls on a public holiday just closed", "fall on the public holidays just closed"),
                    now=now,
                )
        else:
            messages.info(request, f"{site.name} is already closed on every public holiday of the coming year.")
        return redirect(f"{request.path}?site={site.pk}")
    context = {
        "nav": "holidays",
        "site": site,
        "sites": sites,
        "today": today,
        "proposed": site_holidays_to_close(site=site, today=today),
    }
    return render(request, "web/site_holidays.html", context)


def _chosen_days(request: HttpRequest) -> set[dt.date] | None:
    """The holidays ticked on the page's form (`choose` marks that it sent its boxes, ticked or
    not); None for a request without the form's boxes (every holiday offered, as before)."""
    if "choose" not in request.POST:
        return None
    try:
        return {dt.date.fromisoformat(value) for value in request.POST.getlist("day")}
    except ValueError:
        raise BadRequest("A ticked public holiday is not a day (YYYY-MM-DD).") from None


def _sessions_inside(*, site: Site, closures: list[Closure], now: dt.datetime) -> list[dt.datetime]:
    """The starts of the sessions booked at `site` from `now` on that overlap one of `closures`,
    in order: however far ahead (the holidays run a year on, To move looks 26 weeks)."""
    inside = Q()
    for closure in closures:
        inside |= Q(starts_at__lt=closure.ends_at, ends_at__gt=closure.starts_at)
    booked = Appointment.objects.filter(inside, site=site, status__in=UPCOMING_STATUSES, starts_at__gte=now)
    return list(booked.order_by("starts_at").values_list("starts_at", flat=True))
