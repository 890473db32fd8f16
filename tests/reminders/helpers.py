"""Local builders: one patient at one site with one appointment, shaped for reminders."""

from __future__ import annotations

import datetime as dt

from django.core import mail
from django.core.mail import EmailMessage

from clinic.models import Channel, ReminderPolicy
from scheduling.models import Appointment, Reminder, ReminderKind, ReminderStatus
from tests import factories

UTC = dt.UTC


def make_appointment(
    *,
    starts_at: dt.datetime,
    site_zone: str = "America/New_York",
    patient_zone: str = "",
    preferred_channel: str = Channel.EMAIL,
    consent: bool = True,
    mobile_phone: str = "+12025550199",
    email: str | None = None,
    with_plan: bool = True,
    **policy_fields: object,
) -> Appointment:
    site = factories.SiteFactory(time_zone=site_zone)
    if policy_fields:
        ReminderPolicy.objects.filter(site=site).update(**policy_fields)
    patient_kwargs: dict[str, object] = {
        "home_site": site,
        "time_zone": patient_zone,
        "preferred_channel": preferred_channel,
        "reminder_consent": consent,
        "mobile_phone": mobile_phone,
    }
    if email is not None:
        patient_kwargs["email"] = email
    patient = factories.PatientFactory(**patient_kwargs)
    chair = factories.ChairFactory(site=site)
    extra: dict[str, object] = {}
    if with_plan:
        extra = {"plan": factories.PlanFactory(patient=patient, site=site), "sequence": 1}
    return fresh(factories.AppointmentFactory(patient=patient, chair=chair, starts_at=starts_at, **extra))


def fresh(appointment: Appointment) -> Appointment:
    return Appointment.objects.select_related("patient__home_site", "site__reminder_policy", "plan__protocol").get(
        pk=appointment.pk
    )


def move(appointment: Appointment, *, to: dt.datetime) -> Appointment:
    """What the booking service does before calling reminders_reschedule."""
    length = appointment.ends_at - appointment.starts_at
    Appointment.objects.filter(pk=appointment.pk).update(starts_at=to, ends_at=to + length)
    return fresh(appointment)


def cancel(appointment: Appointment, *, now: dt.datetime) -> Appointment:
    """What the booking service does before calling reminders_cancel."""
    Appointment.objects.filter(pk=appointment.pk).update(status="cancelled", cancelled_at=now)
    return fresh(appointment)


def rows(appointment: Appointment, **filters: object) -> list[Reminder]:
    return list(Reminder.objects.filter(appointment=appointment, **filters).order_by("due_at", "pk"))


def pending_reminders(appointment: Appointment) -> list[Reminder]:
    return rows(appointment, kind=ReminderKind.REMINDER, status=ReminderStatus.PENDING)


def emails_for(reminder: Reminder) -> list[EmailMessage]:
    return [m for m in mail.outbox if m.extra_headers.get("X-Reminder-Id") == str(reminder.pk)]
