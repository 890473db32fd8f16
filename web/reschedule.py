"""A patient moves their own session, within the clinic's rules: online changes
end the reminder policy's `patient_notice_hours` before the session (the same
deadline as an online cancel), the new time must be at least that far away
too, and only times the protocol's spacing allows are offered. While the
screening stops booking (as appointment_book checks it) no time is offered and
the patient is asked to call the clinic. The move goes through appointment_move,
which re-checks everything under its locks; a patient can never accept a rule
break."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clinic.audit import patients_shown
from clinic.errors import DomainError
from clinic.form_fields import RefusesControlCharacters
from clinic.public_holidays import unclosed_public_holidays
from patients.models import Patient
from scheduling.engine.wallclock import local_day
from scheduling.errors import InvalidInput, InvalidState, NotEligible, PlanRuleBroken
from scheduling.forms import DayRangeForm
from scheduling.models import UPCOMING_STATUSES, Appointment, AppointmentStatus
from scheduling.selectors import patient_appointments
from scheduling.services import appointment_move
from scheduling.services.appointments import require_screening_for_session
from scheduling.services.slot_finder import MAX_DAYS, find_free_slots
from web.access import patient_required
from web.common import ServiceProblem, describe, session_label, slot_choice

DEFAULT_DAYS = 7

# What a patient is told when the booking service refuses the time for any reason of the clinic's
# (a chair or nurse taken, a closure, opening hours): the service's words name the clinic's
# internal reasons (a closure's), which are for staff.
TIME_NO_LONGER_FREE = "That time is no longer free; please choose another."


class RescheduleSearchForm(DayRangeForm):
    max_days = MAX_DAYS


class RescheduleForm(RefusesControlCharacters, forms.Form):
    slot = forms.CharField(error_messages={"required": "Choose one of the times."})

    def clean_slot(self) -> tuple[dt.datetime, int]:
        chosen = slot_choice(self.cleaned_data["slot"])
        if chosen is None:
            raise forms.ValidationError("Choose one of the times.")
        return chosen


@require_http_methods(["GET", "POST"])
@patient_required
def reschedule(request: HttpRequest, appointment_id: int) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    now = timezone.now()
    # The patient's own sessions as they see them: someone else's session, or a time the EHR
    # holds for them, answers 404 like a missing one.
    appointment = get_object_or_404(
        patient_appointments(patient).select_related("site__reminder_policy", "plan__protocol", "plan__site", "chair"),
        pk=appointment_id,
    )
    patients_shown(request, [patient.pk])
    site = appointment.site
    notice = dt.timedelta(hours=site.reminder_policy_or_default.patient_notice_hours)
    context: dict[str, Any] = {
        "patient": patient,
        "appointment": appointment,
        "label": session_label(appointment),
        "notice_hours": site.reminder_policy_or_default.patient_notice_hours,
        "site": site,
    }
    if appointment.status not in UPCOMING_STATUSES or now >= appointment.starts_at - notice:
        # Said as it is: a cancelled session, one gone by, or one too near to change online.
        if appointment.status == AppointmentStatus.CANCELLED:
            context["cannot_move"] = "cancelled"
        elif appointment.status not in UPCOMING_STATUSES or appointment.starts_at <= now:
            context["cannot_move"] = "past"
        else:
            context["cannot_move"] = "too_late"
        context["too_late"] = True
        return _render(request, patient, context, status=200 if request.method == "GET" else 409)
    if not _screening_allows_a_new_time(appointment, patient=patient, now=now):
        # appointment_move would refuse every time: none is offered, and the patient is told whom
        # to speak to (never the screening's reasons, which are for clinicians).
        context["needs_the_clinic"] = True
        return _render(request, patient, context, status=200 if request.method == "GET" else 409)
    earliest = now + notice
    first_default = max(
        local_day(earliest, site.zone), local_day(appointment.starts_at, site.zone) - dt.timedelta(days=3)
    )
    data = request.POST if request.method == "POST" else (request.GET if "first_day" in request.GET else None)
    search = RescheduleSearchForm(
        data, initial={"first_day": first_default, "last_day": first_default + dt.timedelta(days=DEFAULT_DAYS - 1)}
    )
    if data is None:
        # Show the default week straight away: patients should not have to search first.
        search = RescheduleSearchForm(
            {
                "first_day": first_default.isoformat(),
                "last_day": (first_default + dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
            }
        )
    pick = RescheduleForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if search.is_valid() and pick.is_valid():
            starts_at, _chair = pick.cleaned_data["slot"]
            if starts_at == appointment.starts_at:
                # The same form sent again after the move (or the time the session already has).
                messages.info(request, "Your session is already at that time.")
                return redirect("home")
            else:
                old = appointment.starts_at
                try:
                    # The patient picks a time; the chair and nurse are the site's placement policy's
                    # at that time (the form's chair is only the first free one the list was built with).
                    moved = appointment_move(
                        appointment=appointment, starts_at=starts_at, actor=request.user, now=now, notice_before=notice
                    )
                except NotEligible:
                    # The screening changed since the page was shown.
                    context["needs_the_clinic"] = True
                    return _render(request, patient, context, status=409)
                except DomainError as exc:
                    context["problem"] = patient_problem(exc)
                    status = 409
                else:
                    zone = patient.zone
                    messages.success(
                        request,
                        f"Your session has moved from {old.astimezone(zone):%a %-d %b %H:%M} to "
                        f"{moved.starts_at.astimezone(zone):%a %-d %b %H:%M}. Please confirm it nearer the day.",
                    )
                    return redirect("home")
    days = None
    if not search.is_valid():
        status = 400
    else:
        found = find_free_slots(
            site=site,
            patient=patient,
            first_day=search.cleaned_data["first_day"],
            last_day=search.cleaned_data["last_day"],
            duration=appointment.ends_at - appointment.starts_at,
            route=appointment.session_route,
            now=now,
            not_before=earliest,
            plan=appointment.plan,
            phase=appointment.phase,
            exclude_id=appointment.pk,
        )
        # Patients see only the times they may take; the rest stay with the clinic. Each under the
        # day it falls on by the patient's own clock, as its hour is shown.
        by_day: dict[dt.date, dict[str, Any]] = {d.day: {"day": d.day, "times": [], "suggested": None} for d in found}
        for d in found:
            for choice in d.bookable:
                if choice.slot.start == appointment.starts_at:
                    continue
                day = choice.slot.start.astimezone(patient.zone).date()
                entry = by_day.setdefault(day, {"day": day, "times": [], "suggested": None})
                entry["times"].append(choice.slot)
                if choice.why:  # the time the clinic's placement policy suggests (its reasons stay with the clinic)
                    entry["suggested"] = choice.slot
        days = [by_day[day] for day in sorted(by_day)]
        # A time on a public holiday the site is not closed for is offered (placement takes it like any
        # open day): the patient is told, by the site's own day, so that they may choose another.
        holidays = unclosed_public_holidays(
            site=site, days={local_day(slot.start, site.zone) for day in days for slot in day["times"]}
        )
        for entry in days:
            found = {holidays[d] for slot in entry["times"] if (d := local_day(slot.start, site.zone)) in holidays}
            entry["holidays"] = sorted(found, key=lambda holiday: holiday.day)
        # The time picked stays picked when the page comes back; with none named, the suggested one is.
        picked = slot_choice(request.POST.get("slot", "")) if request.method == "POST" else None
        suggested = next((day["suggested"] for day in days if day["suggested"] is not None), None)
        context["preselect"] = picked[0] if picked else (suggested.start if suggested else None)
    context.update(search=search, pick=pick, days=days)
    return _render(request, patient, context, status=status)


def patient_problem(exc: DomainError) -> ServiceProblem:
    """A refused move in the patient's words. The session's own state (cancelled meanwhile, inside
    the notice period) and their own course's spacing are said as the service says them; anything
    else (a booking conflict, a closure and its reason) only as a time no longer free."""
    if isinstance(exc, PlanRuleBroken):
        return describe(exc)
    if isinstance(exc, (InvalidState, InvalidInput)):
        return ServiceProblem(message=exc.message, items=[])
    return ServiceProblem(message=TIME_NO_LONGER_FREE, items=[])


def _screening_allows_a_new_time(appointment: Appointment, *, patient: Patient, now: dt.datetime) -> bool:
    try:
        require_screening_for_session(
            patient=patient, plan=appointment.plan, site=appointment.site, now=now, actor=None
        )
    except NotEligible:
        return False
    return True


def _render(request: HttpRequest, patient: Patient, context: dict[str, Any], status: int) -> HttpResponse:
    with timezone.override(patient.zone):
        return render(request, "portal/reschedule.html", context, status=status)
