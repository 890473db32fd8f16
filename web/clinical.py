"""The session page (clinicians record vitals, clear a held start, record what was given
and the discharge, start and complete the session) and the controlled-substance log
(clinicians and clinic administrators; CSV export)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from clinic.audit import patient_ids_of, patients_shown
from clinic.errors import DomainError
from clinic.models import Role
from clinical import selectors, services
from clinical.errors import ShortInfusion
from clinical.forms import AdministrationForm, ClearStartForm, LogFilterForm, RecoveryForm, VitalsForm
from clinical.models import VitalsPhase
from measures.selectors import outcome_summary
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import appointment_complete, appointment_start
from web.access import page_required, scoped
from web.common import describe, session_label

FORMS = {"vitals": VitalsForm, "clear": ClearStartForm, "administration": AdministrationForm, "recovery": RecoveryForm}


def _initial_forms(appointment: Appointment, request: HttpRequest, now: dt.datetime) -> dict[str, Any]:
    phase = VitalsPhase.PRE if appointment.status == AppointmentStatus.CHECKED_IN else VitalsPhase.RECOVERY
    protocol = appointment.plan.protocol if appointment.plan_id else None
    infusion = dt.timedelta(minutes=protocol.infusion_minutes if protocol else 40)
    staff = request.staff  # type: ignore[attr-defined]
    zone = appointment.site.zone
    # Worked out on instants and shown on the site's wall clock: on the nights the clocks change,
    # "40 minutes before 03:20" is 01:40, not an hour that does not exist.
    this_minute = now.replace(second=0, microsecond=0)
    # The infusion cannot have started before the last pre-infusion vitals (nor the session's
    # start): the default start is the later of those and an infusion's length before now.
    last_vitals = services.latest_vitals(appointment, VitalsPhase.PRE)
    floors = [appointment.starts_at, *([last_vitals.recorded_at] if last_vitals else [])]
    earliest = max(floors).replace(second=0, microsecond=0)
    started = min(max(this_minute - infusion, earliest), this_minute)
    local_now, started_default = (instant.astimezone(zone).replace(tzinfo=None) for instant in (this_minute, started))
    return {
        "vitals": VitalsForm(initial={"phase": phase}),
        "clear": ClearStartForm(),
        "administration": AdministrationForm(
            site=appointment.site,
            initial={
                "route": appointment.session_route,
                "started_at": started_default,
                "ended_at": local_now,
                "given_by": staff.pk if staff.is_clinician else None,
            },
        ),
        "recovery": RecoveryForm(
            initial={
                "discharged_at": local_now,
                "driver_name": appointment.ride_home or appointment.patient.escort_name,
            }
        ),
    }


def _render(
    request: HttpRequest, appointment: Appointment, *, forms: dict[str, Any], problem: Any = None, status: int = 200
) -> HttpResponse:
    record = selectors.session_record(appointment=appointment)
    context = {
        "appointment": appointment,
        "record": record,
        "forms": forms,
        "problem": problem,
        "label": session_label(appointment),
        "nav": "board",
        "site": appointment.site,
        "day": appointment.starts_at.astimezone(appointment.site.zone).date(),
        "is_prescriber": request.staff.role == Role.PRESCRIBER,  # type: ignore[attr-defined]
        "can_start": appointment.status == AppointmentStatus.CHECKED_IN,
        "can_complete": appointment.status in services.ARRIVED,
        # The chart's flags (the latest response of each questionnaire, when it flags an item) where
        # the infusion happens: self-harm thoughts on the latest PHQ-9 are read at the chair.
        "measure_flags": outcome_summary(patient=appointment.patient, now=timezone.now()).latest_flagged,
    }
    return render(request, "clinical/session.html", context, status=status)


def _perform(request: HttpRequest, appointment: Appointment, which: str, form: Any, now: dt.datetime) -> str:
    user = request.user
    staff = request.staff  # type: ignore[attr-defined]
    data = form.cleaned_data if form is not None else {}
    if which == "vitals":
        services.vitals_record(appointment=appointment, actor=user, now=now, **data)
        return "Vitals recorded."
    if which == "clear":
        services.start_clear(appointment=appointment, prescriber=staff, reason=data["reason"], now=now)
        return "Cleared to start."
    if which == "administration":
        services.administration_record(appointment=appointment, actor=user, now=now, **data)
        return "Administration recorded in the controlled-substance log."
    if which == "recovery":
        services.recovery_record(
            appointment=appointment,
            side_effects=list(data["side_effects"]),
            other_side_effects=data["other_side_effects"],
            notes=data["notes"],
            discharged_at=data["discharged_at"],
            driver_name=data["driver_name"],
            actor=user,
            now=now,
            # A prescriber's documented decision to discharge over out-of-range recovery vitals; the
            # field is not offered to anyone else, so what they send is not a decision of theirs.
            override_reason=data["override_reason"] if staff.role == Role.PRESCRIBER else "",
        )
        return "Recovery and discharge recorded."
    if which == "start":
        appointment_start(appointment=appointment, actor=user, now=now)
        return "The session has started."
    appointment_complete(appointment=appointment, actor=user, now=now)
    return "The session is complete."


@page_required("session_record")
def session(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = get_object_or_404(
        scoped(
            Appointment.objects.select_related("patient", "site", "chair", "nurse__user", "plan__protocol"), request
        ),
        pk=appointment_id,
    )
    patients_shown(request, [appointment.patient_id])
    now = timezone.now()
    with timezone.override(appointment.site.zone):
        forms = _initial_forms(appointment, request, now)
        if request.method == "GET":
            return _render(request, appointment, forms=forms)
        if request.method != "POST":
            return HttpResponse(status=405)
        which = request.POST.get("form", "")
        if which not in (*FORMS, "start", "complete"):
            return HttpResponse("Unknown form.", status=400)
        bound = {"site": appointment.site} if which == "administration" else {}
        form = FORMS[which](request.POST, **bound) if which in FORMS else None
        if form is not None:
            forms[which] = form
            if not form.is_valid():
                return _render(request, appointment, forms=forms, status=400)
        try:
            message = _perform(request, appointment, which, form, now)
        except DomainError as exc:
            field = (exc.details or {}).get("field")
            if form is not None:
                # The error shows on the form it concerns: next to its field when it names one.
                form.add_error(field if field in form.fields else None, exc.message)
                if isinstance(exc, ShortInfusion) and isinstance(form, AdministrationForm):
                    form.short_infusion_refused = True  # its reason field shows beside the error
                return _render(request, appointment, forms=forms, status=exc.http_status)
            return _render(request, appointment, forms=forms, problem=describe(exc), status=exc.http_status)
    messages.success(request, message)
    return redirect(reverse("clinical:session", args=[appointment.pk]))


LOG_PAGE_ROWS = 500


def _log_filters(form: LogFilterForm) -> dict[str, Any] | None:
    """The days asked for ({} for none), or None when a day is not a valid date or the range ends
    before it begins (the form then says why)."""
    if not form.is_bound:
        return {}
    if not form.is_valid():
        return None
    wrong = selectors.reversed_days(form.cleaned_data.get("date_from"), form.cleaned_data.get("date_to"))
    if wrong is not None:
        form.add_error("date_from", wrong)
        return None
    return form.cleaned_data


def _log_rows(request: HttpRequest, filters: dict[str, Any]) -> QuerySet[Any]:
    """The controlled-substance log rows this user may see, between the days asked for."""
    return scoped(
        selectors.controlled_substance_log(date_from=filters.get("date_from"), date_to=filters.get("date_to")),
        request,
    )


@require_GET
@page_required("cs_log")
def controlled_substance_log(request: HttpRequest) -> HttpResponse:
    """The latest LOG_PAGE_ROWS entries of the days asked for, newest first (a clinician opens the log
    to find what was just given); the CSV has them all, in the register's own order (oldest first, as
    written), since it is the register's export. A day that is not a valid date, or a range that ends
    before it begins, lists nothing (400) rather than the whole register or an empty one."""
    form = LogFilterForm(request.GET or None)
    entries: list[Any] = []
    total = 0
    filters = _log_filters(form)
    if filters is not None:
        rows = _log_rows(request, filters)
        total = rows.count()
        entries = list(rows.reverse()[:LOG_PAGE_ROWS])
        patients_shown(request, patient_ids_of(entries))
    return render(
        request,
        "clinical/controlled_substance_log.html",
        {
            "form": form,
            "entries": entries,
            "total": total,
            "cut": total > len(entries),
            "query": request.GET.urlencode(),
            "nav": "cs-log",
            # A line's reason is clinical text: others see that one was recorded (FIELD_READERS).
            "reads_reason": selectors.reads_log_reasons(request.staff.role),  # type: ignore[attr-defined]
            "reason_withheld": selectors.REASON_WITHHELD,
        },
        status=400 if filters is None else 200,
    )


@require_GET
@page_required("cs_log")
def controlled_substance_csv(request: HttpRequest) -> HttpResponse:
    form = LogFilterForm(request.GET or None)
    filters = _log_filters(form)
    if filters is None:
        problems = " ".join(str(error) for errors in form.errors.values() for error in errors)
        return HttpResponse(
            f"The log was not exported: {problems}", status=400, content_type="text/plain; charset=utf-8"
        )
    entries = list(_log_rows(request, filters))
    patients_shown(request, patient_ids_of(entries))
    body = selectors.controlled_substance_csv(entries, role=request.staff.role)  # type: ignore[attr-defined]
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="controlled-substance-log.csv"'
    return response
