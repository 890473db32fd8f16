"""Confirm or cancel from a reminder link. The signed token is the patient's
authority, so no login; the GET only shows a page (mail scanners and link
previews follow links), the POST acts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from clinic.audit import log_anonymous_access, patients_shown
from clinic.errors import DomainError
from scheduling.errors import TooLateForOnlineChange
from scheduling.models import UPCOMING_STATUSES, Appointment, AppointmentStatus
from scheduling.reminders import tokens
from scheduling.services.appointments import appointment_cancel, appointment_confirm, online_cancel_deadline
from web.common import acting_for_the_link

TEMPLATE_DIR = "scheduling/reminders"
CANCEL_REASON = "Cancelled by the patient from a reminder link"


def _page(
    request: HttpRequest, appointment: Appointment | None, template: str, status: int = 200, **extra: Any
) -> HttpResponse:
    context: dict[str, Any] = dict(extra)
    zone = timezone.get_current_timezone()
    if appointment is not None:
        patients_shown(request, [appointment.patient_id])
        zone = appointment.patient.zone
        site = appointment.site
        context.update(
            appointment=appointment,
            local_start=appointment.starts_at.astimezone(zone),
            time_zone=zone.key,
            site_name=site.name,
            site_phone=site.phone,
            site_address=site.address,
        )
    # Pages show the session in the patient's zone, not the server's.
    with timezone.override(zone):
        return render(request, f"{TEMPLATE_DIR}/{template}", context, status=status)


def _resolve(request: HttpRequest, token: str, purpose: str, now: dt.datetime) -> Appointment | HttpResponse:
    try:
        return tokens.appointment_from_token(token=token, purpose=purpose, now=now)
    except tokens.InvalidLink as exc:
        return _page(request, None, "link_invalid.html", status=410, reason=str(exc))


def _resolve_upcoming(
    request: HttpRequest, token: str, purpose: str, now: dt.datetime, *, done: str, done_template: str
) -> Appointment | HttpResponse:
    """The link's session if it is still upcoming; otherwise the page to show instead: the link
    is bad, the link's action is already done (status `done`), or the session is past or gone."""
    found = _resolve(request, token, purpose, now)
    if isinstance(found, HttpResponse):
        return found
    if found.status == done:
        return _page(request, found, done_template, already=True)
    if found.status not in UPCOMING_STATUSES:
        return _page(request, found, "not_upcoming.html", status=409)
    return found


def _cancel_deadline(appointment: Appointment) -> dt.datetime:
    return online_cancel_deadline(appointment)


@log_anonymous_access
@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    found = _resolve_upcoming(
        request, token, tokens.CONFIRM, now, done=AppointmentStatus.CONFIRMED, done_template="confirmed.html"
    )
    if isinstance(found, HttpResponse):
        return found
    appointment = found
    if request.method == "GET":
        return _page(request, appointment, "confirm.html")
    try:
        with acting_for_the_link():
            appointment = appointment_confirm(appointment=appointment, actor=None, now=now, via="reminder link")
    except DomainError as exc:
        return _page(request, appointment, "not_upcoming.html", status=409, reason=exc.message)
    return _page(request, appointment, "confirmed.html")


@log_anonymous_access
@never_cache
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    found = _resolve_upcoming(
        request, token, tokens.CANCEL, now, done=AppointmentStatus.CANCELLED, done_template="cancelled.html"
    )
    if isinstance(found, HttpResponse):
        return found
    appointment = found
    deadline = _cancel_deadline(appointment)
    if now >= deadline:
        # Too close to the session for an online cancel: the clinic wants a call.
        notice_hours = appointment.site.reminder_policy_or_default.patient_notice_hours
        return _page(request, appointment, "call_clinic.html", notice_hours=notice_hours)
    if request.method == "GET":
        return _page(request, appointment, "cancel.html", deadline=deadline.astimezone(appointment.patient.zone))
    try:
        with acting_for_the_link():
            # by_patient: the checks above read the row unlocked; the service checks them again
            # under its lock (the desk may check the patient in meanwhile).
            outcome = appointment_cancel(
                appointment=appointment, actor=None, reason=CANCEL_REASON, now=now, by_patient=True
            )
        appointment = outcome.appointment
    except TooLateForOnlineChange:
        notice_hours = appointment.site.reminder_policy_or_default.patient_notice_hours
        return _page(request, appointment, "call_clinic.html", notice_hours=notice_hours)
    except DomainError as exc:
        return _page(request, appointment, "not_upcoming.html", status=409, reason=exc.message)
    return _page(request, appointment, "cancelled.html")
