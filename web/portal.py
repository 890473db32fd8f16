"""The patient portal. Every query is filtered by the logged-in patient, so
another patient's appointment id answers 404 like an id that does not exist."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from icalendar import Calendar

from clinic.audit import log_anonymous_access, patients_shown
from clinic.errors import DomainError
from measures.selectors import due_questionnaires
from patients.email_confirmation import (
    CONFIRM_MAX_AGE,
    confirmation_address,
    email_change_request,
    email_confirm,
    link_may_be_sent,
)
from patients.forms import EmailChangeForm, ReminderPreferencesForm
from patients.models import Patient
from patients.tasks import email_change_link_send, email_confirmation_send
from scheduling.models import UPCOMING_STATUSES, Appointment, AppointmentStatus
from scheduling.reminders.ics import appointment_event, appointment_ics
from scheduling.reminders.services import calendar_feed_revoke, calendar_feed_rotate
from scheduling.selectors import patient_appointments
from scheduling.services import appointment_cancel, appointment_confirm
from scheduling.services.appointments import online_cancel_deadline
from web.access import patient_required
from web.common import flash_error, session_label

logger = logging.getLogger(__name__)

PATIENT_CANCEL_REASON = "Cancelled by the patient in the portal"
PAST_SHOWN = 10
FEED_PAST_DAYS = 90


def _own_appointments(patient: Patient) -> QuerySet[Appointment]:
    return patient_appointments(patient).select_related("site__reminder_policy", "plan__protocol", "patient__home_site")


def _decorate(appointment: Appointment, now: dt.datetime) -> Appointment:
    deadline = online_cancel_deadline(appointment)
    appointment.label = session_label(appointment)  # type: ignore[attr-defined]
    appointment.deadline = deadline  # type: ignore[attr-defined]
    appointment.can_change = appointment.status in UPCOMING_STATUSES and now < deadline  # type: ignore[attr-defined]
    # Confirming frees nothing: it stays open until the session, as the reminders' links keep it.
    appointment.can_confirm = appointment.status == AppointmentStatus.BOOKED and now < appointment.starts_at  # type: ignore[attr-defined]
    appointment.preparation = appointment.preparation_notes  # type: ignore[attr-defined]
    return appointment


def portal_context(
    request: HttpRequest,
    *,
    now: dt.datetime,
    form: ReminderPreferencesForm | None = None,
    email_form: EmailChangeForm | None = None,
) -> dict[str, Any]:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    patients_shown(request, [patient.pk])
    rows = list(_own_appointments(patient).filter(starts_at__gte=now - dt.timedelta(days=365)).order_by("starts_at"))
    upcoming = [
        _decorate(a, now)
        for a in rows
        if a.ends_at > now
        and a.status in (*UPCOMING_STATUSES, AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_CHAIR)
    ]
    shown = {a.pk for a in upcoming}
    past = [a for a in rows if a.pk not in shown]
    for appointment in past:
        appointment.label = session_label(appointment)  # type: ignore[attr-defined]
    feed = (
        request.build_absolute_uri(reverse("web:calendar-feed", args=[patient.calendar_token]))
        if patient.calendar_token
        else ""
    )
    return {
        "patient": patient,
        "upcoming": upcoming,
        "past": list(reversed(past))[:PAST_SHOWN],
        "form": form or ReminderPreferencesForm(instance=patient),
        "email_form": email_form or EmailChangeForm(),
        "feed_url": feed,
        "webcal_url": "webcal://" + feed.split("://", 1)[1] if feed else "",
        "zone": patient.zone.key,
        # Questionnaires due before the next session (measures/selectors.py).
        "due_questionnaires": due_questionnaires(patient=patient, upcoming=upcoming, now=now),
    }


def _render_portal(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    with timezone.override(context["patient"].zone):
        return render(request, "portal/home.html", context, status=status)


def portal_home(request: HttpRequest) -> HttpResponse:
    return _render_portal(request, portal_context(request, now=timezone.now()))


@require_POST
@patient_required
def portal_action(request: HttpRequest, appointment_id: int, action: str) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    appointment = get_object_or_404(_own_appointments(patient), pk=appointment_id)
    patients_shown(request, [patient.pk])
    now = timezone.now()
    _decorate(appointment, now)
    if action not in ("confirm", "cancel"):
        raise Http404("Unknown action.")
    allowed = appointment.can_confirm if action == "confirm" else appointment.can_change  # type: ignore[attr-defined]
    # Sent again (a double click, a second tab, the back button): say what is so, not the deadline.
    if action == "confirm" and appointment.status == AppointmentStatus.CONFIRMED:
        messages.info(request, "Your session is already confirmed.")
        return redirect("home")
    if action == "cancel" and appointment.status == AppointmentStatus.CANCELLED:
        messages.info(request, "Your session is already cancelled.")
        return redirect("home")
    if not allowed and (appointment.status not in UPCOMING_STATUSES or now >= appointment.starts_at):
        messages.error(request, "This session is no longer ahead, so there is nothing to change online.")
        return redirect("home")
    if not allowed:
        hours = appointment.site.reminder_policy_or_default.patient_notice_hours
        messages.error(
            request,
            f"This session can no longer be changed online (less than {hours} hours to go). "
            f"Please call {appointment.site.name}"
            + (f" on {appointment.site.phone.as_national}." if appointment.site.phone else "."),
        )
        return redirect("home")
    try:
        if action == "confirm":
            appointment_confirm(appointment=appointment, actor=request.user, now=now, via="patient portal")
            messages.success(request, "Thank you: your session is confirmed.")
        else:
            # A patient's cancel never books a replacement: the clinic decides how the course goes on.
            appointment_cancel(
                appointment=appointment,
                actor=request.user,
                reason=PATIENT_CANCEL_REASON,
                now=now,
                rebook=False,
                by_patient=True,
            )
            messages.success(request, "Your session is cancelled. The clinic will contact you to rebook.")
    except DomainError as exc:
        flash_error(request, exc)
    return redirect("home")


@require_GET
@patient_required
def appointment_download(request: HttpRequest, appointment_id: int) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    appointment = get_object_or_404(_own_appointments(patient), pk=appointment_id)
    patients_shown(request, [patient.pk])
    body = appointment_ics(appointment=appointment, now=timezone.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    day = appointment.starts_at.astimezone(patient.zone).date()
    response["Content-Disposition"] = f'attachment; filename="session-{day.isoformat()}.ics"'
    return response


@log_anonymous_access
@never_cache
@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The private subscription URL: the secret token is the patient's authority, so no login,
    but it dies with the login: a revoked or rotated token, or a patient whose portal login is
    gone or deactivated, answers 404 like a token that never existed.
    Two queries whatever the number of sessions."""
    patient = get_object_or_404(
        Patient.objects.select_related("home_site"),
        calendar_token=token,
        user__isnull=False,
        user__is_active=True,
    )
    patients_shown(request, [patient.pk])
    now = timezone.now()
    appointments = (
        _own_appointments(patient).filter(starts_at__gte=now - dt.timedelta(days=FEED_PAST_DAYS)).order_by("starts_at")
    )
    calendar = Calendar()
    calendar.add("prodid", "-//Infusion clinic//Patient calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "My clinic appointments")
    for appointment in appointments:
        calendar.add_component(appointment_event(appointment=appointment, now=now))
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="appointments.ics"'
    return response


@require_POST
@patient_required
def calendar_feed_change(request: HttpRequest, action: str) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    if action == "rotate":
        calendar_feed_rotate(patient=patient)
        messages.success(request, "Your calendar has a new private address. The old one no longer works.")
    elif action == "revoke":
        calendar_feed_revoke(patient=patient)
        messages.success(request, "Your calendar address is turned off. Nobody can use it any more.")
    else:
        raise Http404("Unknown action.")
    return redirect(reverse("home") + "#calendar")


@require_http_methods(["POST"])
@patient_required
def preferences(request: HttpRequest) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    now = timezone.now()
    form = ReminderPreferencesForm(request.POST, instance=patient)
    if not form.is_valid():
        return _render_portal(request, portal_context(request, now=now, form=form), status=400)
    form.save_choices(now=now)
    messages.success(request, "Your reminder choices are saved.")
    return redirect(reverse("home") + "#reminders")


@require_POST
@patient_required
def email_confirmation_request(request: HttpRequest) -> HttpResponse:
    """Mail the patient a link that confirms the contact email on their record."""
    patient: Patient = request.patient  # type: ignore[attr-defined]
    if not patient.email:
        messages.error(request, "There is no email address on your record. Ask the clinic to add it.")
    elif patient.email_is_confirmed:
        messages.info(request, f"You have confirmed {patient.email} already.")
    elif not link_may_be_sent(patient):
        messages.error(request, "You have asked for several links in the last hour. Open the latest one, or try later.")
    elif not _queued(email_confirmation_send, patient.pk):
        messages.error(request, NOT_SENT_NOW)
    else:
        messages.success(
            request,
            f"We are sending a link to {patient.email}. Open it within {CONFIRM_MAX_AGE.days} days "
            "and sign in here to confirm the address.",
        )
    return redirect(reverse("home") + "#email")


NOT_SENT_NOW = "We could not send the link just now. Please try again in a few minutes."


def _queued(task: Any, *args: Any) -> bool:
    """Queue a mail task (nothing of the request is left to commit); False, logged, when the
    broker cannot take it."""
    try:
        task.delay(*args)
    except Exception:  # kombu's OperationalError and friends: the broker is down
        logger.exception("Could not queue %s", task.name)
        return False
    return True


@require_POST
@patient_required
def email_change(request: HttpRequest) -> HttpResponse:
    """The patient asks to use another address: a link to confirm it goes to it; the record keeps
    the old one until they do."""
    patient: Patient = request.patient  # type: ignore[attr-defined]
    form = EmailChangeForm(request.POST)
    if not form.is_valid():
        return _render_portal(request, portal_context(request, now=timezone.now(), email_form=form), status=400)
    if not link_may_be_sent(patient):
        messages.error(request, "You have asked for several links in the last hour. Open the latest one, or try later.")
        return redirect(reverse("home") + "#email")
    try:
        address = email_change_request(patient=patient, address=form.cleaned_data["email"])
    except DomainError as exc:
        form.add_error("email", exc.message)
        return _render_portal(request, portal_context(request, now=timezone.now(), email_form=form), status=400)
    if not _queued(email_change_link_send, patient.pk):
        messages.error(request, NOT_SENT_NOW)
        return redirect(reverse("home") + "#email")
    messages.success(
        request,
        f"We are sending a link to {address}. Open it within {CONFIRM_MAX_AGE.days} days and sign in here: "
        "the clinic then writes to that address. Until then it keeps writing to the one on your record.",
    )
    return redirect(reverse("home") + "#email")


# The link's token, kept in the session between the link and the page that confirms: the page's
# address (a sign-in's `next`, the access log) never holds it.
PENDING_CONFIRMATION = "email_confirmation_token"


@never_cache
@require_GET
def email_confirmation_link(request: HttpRequest, token: str) -> HttpResponse:
    """The mailed link: it keeps the token in the session and goes on to the confirmation page (a
    patient signed out signs in on the way there)."""
    request.session[PENDING_CONFIRMATION] = token
    return redirect("web:portal-email-confirmation")


@never_cache
@require_http_methods(["GET", "POST"])
@patient_required
def email_confirmation(request: HttpRequest) -> HttpResponse:
    """The address the link names, confirmed on a POST (a mail scanner that opens the link confirms
    nothing); only for the patient it was sent to, while the record still has it."""
    patient: Patient = request.patient  # type: ignore[attr-defined]
    patients_shown(request, [patient.pk])
    token = request.session.get(PENDING_CONFIRMATION)
    if not isinstance(token, str):
        problem = "Open the link in the email we sent you, or ask for a new one below."
        return render(request, "portal/email_confirm.html", {"problem": problem}, status=400)
    try:
        if request.method == "POST":
            address = email_confirm(patient=patient, token=token, now=timezone.now())
            request.session.pop(PENDING_CONFIRMATION, None)
            messages.success(request, f"Thank you: {address} is confirmed as your email address.")
            return redirect(reverse("home") + "#email")
        address = confirmation_address(token, patient)
    except DomainError as exc:
        return render(request, "portal/email_confirm.html", {"problem": exc.message}, status=400)
    changing = address != patient.email
    context = {"address": address, "changing": changing, "patient": patient}
    return render(request, "portal/email_confirm.html", context)
