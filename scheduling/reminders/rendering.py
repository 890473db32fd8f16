"""Turning a Reminder row into the words the patient reads, in their own zone."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.template import Context, Template
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from clinic.models import Channel, ReminderPolicy
from clinic.reminder_templates import compile_reminder_template
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from scheduling.reminders import tokens
from scheduling.reminders.channels import Attachment, OutgoingMessage
from scheduling.reminders.ics import CANCEL, PUBLISH, appointment_ics

logger = logging.getLogger(__name__)

TEMPLATE_DIR = "scheduling/reminders"


def link_url(*, appointment: Appointment, purpose: str) -> str:
    token = tokens.make_token(appointment=appointment, purpose=purpose)
    return settings.SITE_URL + reverse(f"reminders:{purpose}", args=[token])


def preparation_notes(appointment: Appointment) -> str:
    lines = [appointment.preparation_notes.strip(), appointment.site.arrival_notes.strip()]
    if appointment.ride_home:
        lines.append(f"Your ride home on record: {appointment.ride_home}.")
    return "\n".join(line for line in lines if line)


def zone_note(moment: dt.datetime, *, patient_zone: ZoneInfo, site_zone: ZoneInfo) -> str:
    """What follows a time shown on the patient's clock in a text message: a text is short, so it
    names the zone (" GMT") only when the patient's is not the clinic's, where the time would
    otherwise be read as the clinic's. The reminders and the waitlist's offer share this rule."""
    return f" {moment.astimezone(patient_zone).tzname()}" if patient_zone.key != site_zone.key else ""


def message_context(*, appointment: Appointment, with_links: bool) -> dict[str, Any]:
    """What a reminder template is rendered with: the names clinic.reminder_templates.CONTEXT_NAMES
    lists, whose sample a template is rendered with when it is saved."""
    patient = appointment.patient
    zone = patient.zone
    site = appointment.site
    protocol = appointment.plan.protocol if appointment.plan_id else None
    context: dict[str, Any] = {
        "patient_first_name": patient.first_name,
        "site_name": site.name,
        "site_address": site.address,
        # A site may have no number on record: the templates then leave it out.
        "site_phone": str(site.phone) if site.phone else "",
        "protocol": protocol.name if protocol else "infusion",
        "local_start": appointment.starts_at.astimezone(zone),
        "local_end": appointment.ends_at.astimezone(zone),
        "time_zone": zone.key,
        "zone_note": zone_note(appointment.starts_at, patient_zone=zone, site_zone=site.zone),
        "preparation_notes": preparation_notes(appointment),
        "confirm_url": "",
        "cancel_url": "",
        # A session that went with a change of its plan: its notice says which change.
        "released_with_plan": appointment.released_with_plan
        if appointment.status == AppointmentStatus.CANCELLED
        else "",
    }
    if with_links:
        context["confirm_url"] = link_url(appointment=appointment, purpose=tokens.CONFIRM)
        context["cancel_url"] = link_url(appointment=appointment, purpose=tokens.CANCEL)
    return context


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    # Keyed by the text itself, so an admin's edit takes effect on the next message. The engine
    # that checked the template when it was saved (ReminderPolicy.clean): no files, no url names.
    return compile_reminder_template(source)


def _from_policy(policy: ReminderPolicy, field: str, context: dict[str, Any]) -> str:
    """The policy's template `field` rendered (admin-edited; plain text, so no HTML escaping). One
    saved before the engine refused what it uses (a loop, `|safe`, `|join`: ReminderPolicy.clean
    refuses it now) or that fails to render gives way to the built-in wording, the field's default:
    the patient is still reminded, and the policy's admin pages say what to correct."""
    try:
        return _compiled(getattr(policy, field)).render(Context(context, autoescape=False))
    except SoftTimeLimitExceeded:
        raise  # the task's time is up, not the template's fault (see dispatch.deliver)
    except Exception as exc:
        logger.warning(
            "The %s of reminder policy %s (%s) is no longer accepted (%s); the built-in wording was sent instead.",
            ReminderPolicy._meta.get_field(field).verbose_name,
            policy.pk,
            policy.site,
            exc,
        )
        built_in = ReminderPolicy._meta.get_field(field).get_default()
        return _compiled(built_in).render(Context(context, autoescape=False))


def _from_file(kind: str, part: str, context: dict[str, Any]) -> str:
    return render_to_string(f"{TEMPLATE_DIR}/{kind}_{part}.txt", context)


# The portal asks for the pre-session questionnaires from this long before a session
# (measures.selectors.DUE_BEFORE_SESSION), and one reminder in it carries the link.
QUESTIONNAIRE_WINDOW = dt.timedelta(hours=72)


def questionnaire_offset_minutes(offsets_hours: list[int]) -> int | None:
    """Which of the clinic's reminders asks for the pre-session questionnaire (its offset in
    minutes): the last one sent at least a day before the session, inside the questionnaire's
    window, so the patient has time to answer (24 h with the default 72, 24 and 2 h); if none is,
    the first one inside the window; None if no reminder falls inside it."""
    window = int(QUESTIONNAIRE_WINDOW.total_seconds() // 3600)
    inside = sorted(hours for hours in set(offsets_hours) if 0 < hours <= window)
    if not inside:
        return None
    a_day_before = [hours for hours in inside if hours >= 24]
    return (a_day_before[0] if a_day_before else inside[-1]) * 60


def nearest_sent_above() -> Subquery:
    """For a reminder row: the smallest offset of its session's reminders farther from the session
    that went out (None if none did), for `deliver` to read with its batch
    (`nearest_sent_offset_above`) rather than a statement per message."""
    return Subquery(
        Reminder.objects.filter(
            appointment_id=OuterRef("appointment_id"),
            kind=ReminderKind.REMINDER,
            session_starts_at=OuterRef("session_starts_at"),
            offset_minutes__gt=OuterRef("offset_minutes"),
            status=ReminderStatus.SENT,
        )
        .order_by("offset_minutes")
        .values("offset_minutes")[:1]
    )


def _asks_for_questionnaire(reminder: Reminder, offsets_hours: list[int]) -> bool:
    """Whether this reminder carries the questionnaire link: it is the one that asks for it
    (`questionnaire_offset_minutes`), or a nearer one when no reminder of the session from the
    one that asks down to this one went out (it was overtaken after an outage, it failed, or the
    session was booked after its time), so every session's patient is asked."""
    asking = questionnaire_offset_minutes(offsets_hours)
    offset = reminder.offset_minutes
    if asking is None or offset is None or offset > asking:
        return False
    if offset == asking:
        return True
    sent_above = getattr(reminder, "nearest_sent_offset_above")  # noqa: B009 - `deliver` annotates its batch
    return sent_above is None or sent_above > asking


def questionnaire_url(appointment: Appointment) -> str:
    return f"{settings.SITE_URL}{reverse('measures:questionnaire', args=['phq9'])}?appointment={appointment.pk}"


def reminder_message_id(reminder: Reminder) -> str:
    # Derived from the row, not random: a retry after a send whose answer was lost
    # (timeout, crash before recording) carries the same id, and providers and
    # mail clients treat it as the same message.
    host = urlparse(settings.SITE_URL).hostname or "clinic.example"
    return f"<reminder-{reminder.pk}@{host}>"


def render_message(*, reminder: Reminder, channel: str, now: dt.datetime) -> OutgoingMessage:
    appointment = reminder.appointment
    patient = appointment.patient
    policy = appointment.site.reminder_policy_or_default
    context = message_context(appointment=appointment, with_links=reminder.kind != ReminderKind.CANCELLATION)
    # The `date` filter shows aware datetimes in the active zone: make it the patient's.
    headers = {"X-Reminder-Id": str(reminder.pk), "Message-ID": reminder_message_id(reminder)}
    with timezone.override(patient.zone):
        if channel == Channel.SMS:
            if reminder.kind == ReminderKind.REMINDER:
                sms = _from_policy(policy, "sms_template", context)
            else:
                sms = _from_file(reminder.kind, "sms", context)
            return OutgoingMessage(
                to=str(patient.mobile_phone), subject="", body=" ".join(sms.split()), headers=headers
            )
        if reminder.kind == ReminderKind.REMINDER:
            subject = _from_policy(policy, "subject_template", context)
            body = _from_policy(policy, "body_template", context)
            if _asks_for_questionnaire(reminder, policy.offsets_hours):
                # Measurement-based care: the score before each session shows whether treatment works.
                body += f"\nBefore your session, please fill in a short questionnaire (PHQ-9): {questionnaire_url(appointment)}\n"
        else:
            subject = _from_file(reminder.kind, "subject", context)
            body = _from_file(reminder.kind, "body", context)
    attachments: tuple[Attachment, ...] = ()
    if reminder.kind in (ReminderKind.CONFIRMATION, ReminderKind.CHANGE, ReminderKind.CANCELLATION):
        method = CANCEL if reminder.kind == ReminderKind.CANCELLATION else PUBLISH
        ics = appointment_ics(appointment=appointment, now=now, method=method)
        attachments = (Attachment("session.ics", ics, f"text/calendar; method={method}; charset=utf-8"),)
    return OutgoingMessage(
        to=patient.email, subject=" ".join(subject.split()), body=body, attachments=attachments, headers=headers
    )
