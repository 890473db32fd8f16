"""Correcting a controlled-substance log line (`/controlled-substances/<id>/correct/`): the page
beside the API's `correct` action, calling the same service with the same rule of who may
(clinicians of the line's site; clinic administrators only read the log). The form shows the
line's current values on the site's wall clock; the service is given only the fields changed,
so a value left as it was is not checked again (a lot is still corrected after the clinician
who gave the drug left the site)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clinic.audit import patients_shown
from clinic.errors import DomainError
from clinical import selectors, services
from clinical.forms import CorrectionForm
from clinical.models import Administration, ControlledSubstanceEntry
from web.access import page_required, safe_next, scoped

# The fields a correction may change, in the service's names.
CORRECTABLE = ("total_mg", "dose_mg_per_kg", "weight_kg", "lot_number", "route", "given_by", "started_at")


def _to_the_minute(instant: dt.datetime) -> dt.datetime:
    return instant.replace(second=0, microsecond=0)


def _current_values(administration: Administration) -> dict[str, Any]:
    """What the line states now, as the form shows it: the start on the site's wall clock (the view
    activates the site's zone), to the minute as the form takes times."""
    local_start = _to_the_minute(administration.started_at.astimezone(timezone.get_current_timezone()))
    return {
        "total_mg": administration.total_mg,
        "dose_mg_per_kg": administration.dose_mg_per_kg,
        "weight_kg": administration.weight_kg,
        "lot_number": administration.lot_number,
        "route": administration.route,
        "given_by": administration.given_by_id,
        "started_at": local_start.replace(tzinfo=None),
    }


def _changes(administration: Administration, data: dict[str, Any]) -> dict[str, Any]:
    """The fields the form changed; a start is compared to the minute, as it was shown."""
    unchanged = {
        "total_mg": data["total_mg"] == administration.total_mg,
        "dose_mg_per_kg": data["dose_mg_per_kg"] == administration.dose_mg_per_kg,
        "weight_kg": data["weight_kg"] == administration.weight_kg,
        "lot_number": data["lot_number"].strip() == administration.lot_number,
        "route": data["route"] == administration.route,
        "given_by": data["given_by"].pk == administration.given_by_id,
        "started_at": _to_the_minute(data["started_at"]) == _to_the_minute(administration.started_at),
    }
    return {name: data[name] for name in CORRECTABLE if not unchanged[name]}


def _latest_line(entry: ControlledSubstanceEntry) -> ControlledSubstanceEntry:
    """The administration's latest line: the only one the service corrects."""
    latest = ControlledSubstanceEntry.objects.filter(administration_id=entry.administration_id).order_by("-pk").first()
    return latest or entry


def _render(
    request: HttpRequest,
    entry: ControlledSubstanceEntry,
    administration: Administration,
    *,
    form: CorrectionForm | None,
    back: str,
    latest: ControlledSubstanceEntry | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "entry": entry,
        "administration": administration,
        "form": form,
        "back": back,
        "latest": latest,
        "nav": "cs-log",
    }
    return render(request, "clinical/controlled_substance_correct.html", context, status=status)


@require_http_methods(["GET", "POST"])
@page_required("cs_correct")
def controlled_substance_correct(request: HttpRequest, entry_id: int) -> HttpResponse:
    """GET: the line and the form; POST: the correction, then back to the log (its days kept) with
    the new line's number. A line already corrected answers 409 with a link to its latest line."""
    # Another site's line is 404 as on the log and the session page: an id guess learns nothing.
    entry = get_object_or_404(
        scoped(selectors.controlled_substance_log(), request).select_related("administration", "given_by__user"),
        pk=entry_id,
    )
    patients_shown(request, [entry.patient_id])
    administration = entry.administration
    back = safe_next(request, reverse("clinical:cs-log"))
    site = entry.site
    with timezone.override(site.zone):
        latest = _latest_line(entry)
        if latest.pk != entry.pk:
            return _render(request, entry, administration, form=None, back=back, latest=latest, status=409)
        if request.method == "GET":
            form = CorrectionForm(initial=_current_values(administration), site=site, given_by=administration.given_by)
            return _render(request, entry, administration, form=form, back=back)
        form = CorrectionForm(request.POST, site=site, given_by=administration.given_by)
        if not form.is_valid():
            return _render(request, entry, administration, form=form, back=back, status=400)
        try:
            correction = services.controlled_substance_correct(
                entry=entry,
                reason=form.cleaned_data["reason"],
                actor=request.user,
                now=timezone.now(),
                **_changes(administration, form.cleaned_data),
            )
        except DomainError as exc:
            latest = _latest_line(entry)
            if latest.pk != entry.pk:  # corrected by someone else since the page was drawn
                return _render(request, entry, administration, form=None, back=back, latest=latest, status=409)
            field = (exc.details or {}).get("field")
            form.add_error(field if field in form.fields else None, exc.message)
            return _render(request, entry, administration, form=form, back=back, status=exc.http_status)
    messages.success(request, f"Correction recorded as entry #{correction.pk} (corrects #{entry.pk}).")
    return redirect(back)
