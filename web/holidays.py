"""The public holidays a site is not yet closed for, offered to clinic administrators as
closures they add in one step (clinic.public_holidays)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clinic.public_holidays import site_holidays_close, site_holidays_to_close
from scheduling.engine.wallclock import local_day
from web.access import page_required
from web.desk import _pick_site, sites_for


@require_http_methods(["GET", "POST"])
@page_required("site_holidays")
def site_holidays(request: HttpRequest) -> HttpResponse:
    sites = sites_for(request.staff)  # type: ignore[attr-defined]
    site = _pick_site(request, sites)
    today = local_day(timezone.now(), site.zone)
    if request.method == "POST":
        added = site_holidays_close(site=site, today=today)
        if added:
            messages.success(request, f"{len(added)} public holidays added as closures at {site.name}.")
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
