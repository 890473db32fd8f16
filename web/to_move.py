"""Sessions to move: the sessions booked at a site that its set-up, changed since they were
booked, no longer allows (scheduling.selectors.sessions_to_move), for the front desk to move."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from clinic.audit import patients_shown
from scheduling.selectors import TO_MOVE_HORIZON, sessions_to_move
from web.access import page_required
from web.common import mark_plan_attention, session_label
from web.desk import _pick_site, sites_for
from web.scope import mark_make_up_elsewhere


@require_GET
@page_required("to_move")
def to_move(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    sites = sites_for(request.staff)  # type: ignore[attr-defined]
    site = _pick_site(request, sites)
    until = now + TO_MOVE_HORIZON
    found = sessions_to_move(site=site, now=now, until=until)
    patients_shown(request, sorted({entry.appointment.patient_id for entry in found}))
    for entry in found:
        entry.appointment.label = session_label(entry.appointment)  # type: ignore[attr-defined]
    mark_plan_attention((entry.appointment for entry in found), request)
    mark_make_up_elsewhere((entry.appointment for entry in found), request.staff)  # type: ignore[attr-defined]
    context = {"nav": "to-move", "site": site, "sites": sites, "found": found, "until": until}
    with timezone.override(site.zone):
        return render(request, "web/to_move.html", context)
