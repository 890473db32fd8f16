"""The clinic manager's pages: the site's day template (clinic administrators regenerate it)
and the capacity page (how busy chairs and nurses were, setups, waits and overtime, before
and since the latest template). Reads come from the selectors, charts from capacity_charts."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from clinic.models import Chair, Site, StaffMember
from clinic.permissions import sites_of
from clinical.selectors import CapacityPeriod, CapacityWindow, capacity_report, first_session_day
from scheduling.engine.wallclock import local_day
from scheduling.models import DayTemplate, DayTemplateState, Protocol
from scheduling.selectors import TemplateNurses, coming_day_plans, day_template_nurses, latest_day_template
from scheduling.services.day_template import STALE_REQUEST, day_template_request
from web.access import page_required
from web.common import parse_day

PERIOD_WEEKS = (4, 8)


def _pick_site(request: HttpRequest) -> tuple[Site, list[Site]]:
    sites = sites_of(request.staff)  # type: ignore[attr-defined]
    if not sites:
        raise Http404("You are not assigned to any site.")
    wanted = request.GET.get("site") or request.POST.get("site")
    if wanted:
        for site in sites:
            if str(site.pk) == wanted:
                return site, sites
        raise Http404("No such site for you.")
    return sites[0], sites


def _template_nurse(entry: dict[str, Any], ranks: dict[tuple[str, ...], int]) -> str:
    """Which nurse a template start is for, as the clinic rosters them: a start solved per nurse
    names her shift's hours (and which of the nurses on those hours, where there are several); a
    lane's start its lane's nurse, the k-th on shift by id."""
    if entry.get("shift"):
        begins, ends = entry["shift"]
        hours = f"{begins}–{ends} nurse"
        many = ranks.get(tuple(entry["shift"]), 0) > 0
        return f"{hours} {entry.get('shift_rank', 0) + 1}" if many else hours
    if entry.get("lane") is not None:
        return f"nurse {entry['lane'] + 1}"
    return ""


def _template_rows(template: DayTemplate | None, site: Site, on: TemplateNurses | None = None) -> list[dict[str, Any]]:
    """One row per chair of the template: its name and its starts in time order, with the protocol
    and the nurse each start is for (and, with `on`, who that is on its day)."""
    if template is None:
        return []
    names = _staff_names(set(on.nurses.values())) if on is not None else {}
    chairs = dict(Chair.objects.filter(site=site).values_list("pk", "name"))
    protocols = dict(
        Protocol.objects.filter(pk__in={entry["protocol_id"] for entry in template.starts}).values_list("pk", "name")
    )
    ranks: dict[tuple[str, ...], int] = {}  # a shift's hours -> the highest rank a start names
    for entry in template.starts:
        if entry.get("shift"):
            key = tuple(entry["shift"])
            ranks[key] = max(ranks.get(key, 0), entry.get("shift_rank", 0))
    by_chair: dict[int, list[dict[str, str]]] = defaultdict(list)
    for entry in template.starts:
        by_chair[entry["chair_id"]].append(
            {
                "start": entry["start"],
                "protocol": protocols.get(entry["protocol_id"], "a retired protocol"),
                "nurse": _template_nurse(entry, ranks),
                "name": names.get(on.nurses.get((entry["chair_id"], entry["start"]), 0), "") if on else "",
            }
        )
    return sorted(
        (
            {"chair": chairs.get(chair_id, f"Chair {chair_id}"), "starts": sorted(starts, key=lambda s: s["start"])}
            for chair_id, starts in by_chair.items()
        ),
        key=lambda row: row["chair"],
    )


def _staff_names(ids: set[int]) -> dict[int, str]:
    return {
        member.pk: member.user.get_full_name() or member.user.get_username()
        for member in StaffMember.objects.filter(pk__in=ids).select_related("user")
    }


def _nurse_key(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Each nurse the template names ("nurse 1", "08:00–14:00 nurse") with who that is on the
    shown day: one name, or several joined where her starts fall to different nurses."""
    names: dict[str, list[str]] = {}
    for row in rows:
        for start in row["starts"]:
            if start["nurse"] and start["name"] and start["name"] not in names.setdefault(start["nurse"], []):
                names[start["nurse"]].append(start["name"])

    def natural(label: str) -> list[Any]:  # "nurse 2" before "nurse 10"
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label)]

    return [{"nurse": nurse, "name": " / ".join(names[nurse])} for nurse in sorted(names, key=natural)]


@require_http_methods(["GET", "POST"])
@page_required("day_template")
def day_template(request: HttpRequest) -> HttpResponse:
    site, sites = _pick_site(request)
    now = timezone.now()
    if request.method == "POST":
        attempt = day_template_request(site=site, actor=request.user, now=now)
        if attempt.state == DayTemplateState.FAILED:
            # The task queue did not take it: nothing is being computed, the template in use stays.
            messages.error(request, f"{attempt.error} The template in use stays.")
        else:
            messages.success(
                request,
                "The day template is being computed (queued "
                f"{timezone.localtime(attempt.requested_at, site.zone):%H:%M}); "
                "this page shows the result when it is done.",
            )
        return redirect(f"{reverse('web:day-template')}?site={site.pk}")
    current = latest_day_template(site_id=site.pk)
    latest = (
        DayTemplate.objects.filter(site=site).select_related("computed_by").order_by("-requested_at", "-pk").first()
    )
    today = local_day(now, site.zone)
    on = day_template_nurses(site=site, template=current, today=today) if current is not None else None
    rows = _template_rows(current, site, on)
    context = {
        "nav": "day-template",
        "site": site,
        "sites": sites,
        "current": current,
        "rows": rows,
        "nurses_on": on.day if on is not None else None,
        "today": today,
        "nurse_key": _nurse_key(rows),
        "latest": latest if latest is not None and latest != current else None,
        # Queued so long ago that its worker is lost: a new request computes it afresh.
        "latest_stale": latest is not None and latest.requested_at <= now - STALE_REQUEST,
        "history": DayTemplate.objects.filter(site=site).select_related("computed_by")[:10],
        "plans": [
            {"day": plan.day, "left": len(plan.starts), "booked": len(plan.booked), "computed_at": plan.computed_at}
            for plan in coming_day_plans(site=site, today=today)
        ],
    }
    with timezone.override(site.zone):
        return render(request, "web/day_template.html", context)


def _windows(request: HttpRequest, site: Site, today: dt.date) -> tuple[list[CapacityWindow], int, dt.date, str]:
    """Two periods of `weeks` weeks either side of a split day: the latest template's day unless the
    page asks for another (`since`: a malformed day or one outside the clinical range answers 400, as
    every page's), or today when there is no template (then: past and booked ahead)."""
    try:
        weeks = int(request.GET.get("weeks", PERIOD_WEEKS[0]))
    except ValueError:
        weeks = PERIOD_WEEKS[0]
    if weeks not in PERIOD_WEEKS:
        weeks = PERIOD_WEEKS[0]
    template = latest_day_template(site_id=site.pk)
    template_day = local_day(template.computed_at, site.zone) if template and template.computed_at else None
    split = parse_day(request.GET.get("since"), template_day or today)
    if template_day is not None and split == template_day:
        reason = f"the day template of {template_day:%-d %b %Y}"
    else:
        reason = f"{split:%-d %b %Y}"
    span = dt.timedelta(weeks=weeks)
    before = CapacityWindow(
        label=f"{weeks} weeks before", first_day=split - span, last_day=split - dt.timedelta(days=1)
    )
    after = CapacityWindow(label=f"{weeks} weeks since", first_day=split, last_day=split + span - dt.timedelta(days=1))
    return [before, after], weeks, split, reason


# Periods whose sessions an open day differ by more than this ratio are said to differ in volume.
VOLUME_RATIO = 1.25


def _period_notes(periods: list[CapacityPeriod], first_day: dt.date | None, today: dt.date) -> list[str]:
    """What the table and charts do not say by themselves: that the periods' volumes differ (their
    heights then compare the volume, not the template), and that a period has open days before the
    site's first session (counted, with nothing booked)."""
    notes = []
    # A period wholly before the first session is said below, not as a volume.
    compared = [p for p in periods if p.open_days and (first_day is None or p.window.last_day >= first_day)]
    rates = [p.sessions_per_open_day for p in compared]
    if len(rates) > 1 and max(rates) > 0 and (min(rates) == 0 or max(rates) / min(rates) > VOLUME_RATIO):
        volumes = " against ".join(f"{p.sessions_per_open_day:.1f} ({p.window.label})" for p in compared)
        notes.append(
            f"The periods' volumes differ: {volumes} sessions an open day. Compare where in the day the "
            "load falls, not how high it is."
        )
    if first_day is None:
        notes.append("No session has been booked at this site yet.")
        return notes
    tense = "was" if first_day <= today else "is"
    for period in periods:
        empty = sum(day < first_day for day in period.open_dates)
        if empty:
            days = "open day of the" if empty == 1 else "open days of the"
            come = "comes" if empty == 1 else "come"
            notes.append(
                f"The site's first session {tense} on {first_day:%-d %b %Y}: {empty} {days} "
                f"{period.window.label} {come} before it, with nothing booked."
            )
    return notes


@require_GET
@page_required("capacity")
def capacity(request: HttpRequest) -> HttpResponse:
    site, sites = _pick_site(request)
    now = timezone.now()
    today = local_day(now, site.zone)
    windows, weeks, split, reason = _windows(request, site, today)
    report = capacity_report(site=site, windows=windows, now=now)
    first_day = first_session_day(site=site)
    # Imported here: matplotlib costs every web worker time and memory at start-up, and only this page draws.
    from web.capacity_charts import capacity_charts

    context = {
        "nav": "capacity",
        "site": site,
        "sites": sites,
        "report": report,
        "charts": capacity_charts(report),
        "weeks": weeks,
        "period_weeks": PERIOD_WEEKS,
        "split": split,
        "split_reason": reason,
        "today": today,
        "notes": _period_notes(report.periods, first_day, today),
    }
    return render(request, "web/capacity.html", context)
