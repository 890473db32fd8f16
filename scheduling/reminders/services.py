"""Writes for reminders. The booking services call `reminders_schedule`,
`reminders_reschedule` and `reminders_cancel` inside their own transaction, so
the rows commit (or roll back) with the booking, move or cancel that caused them.
The dispatcher lives in `dispatch` and is re-exported here."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from clinic.audit import access_log_write_mailed
from clinic.models import ReminderPolicy, Role, Site, StaffMember
from patients.models import Patient, new_calendar_token
from scheduling.models import (
    UPCOMING_STATUSES,
    Appointment,
    FrontDeskListDelivery,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from scheduling.reminders.dispatch import DispatchReport, reminders_dispatch_due
from scheduling.reminders.selectors import front_desk_daily_list
from scheduling.reminders.timing import (
    ChannelChoice,
    QuietHours,
    choose_channel,
    notice_send_time,
    reminder_send_times,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DispatchReport",
    "calendar_feed_revoke",
    "calendar_feed_rotate",
    "front_desk_lists_send_due",
    "reminders_cancel",
    "reminders_dispatch_due",
    "reminders_reschedule",
    "reminders_resume",
    "reminders_schedule",
]

# Rows that have not gone out yet and may still be stopped.
UNSENT = (ReminderStatus.PENDING, ReminderStatus.SENDING)


def quiet_hours(policy: ReminderPolicy) -> QuietHours:
    return QuietHours(start=policy.quiet_hours_start, end=policy.quiet_hours_end)


def channel_for(*, patient: Patient, policy: ReminderPolicy) -> ChannelChoice:
    return choose_channel(
        preferred=patient.preferred_channel,
        has_email=bool(patient.email),
        has_mobile=bool(patient.mobile_phone),
        email_enabled=policy.email_enabled,
        sms_enabled=policy.sms_enabled,
    )


def _new_rows(*, appointment: Appointment, now: dt.datetime, notice: str) -> list[Reminder]:
    """Unsaved rows for the appointment's current start: one notice and the reminders still ahead."""
    patient = appointment.patient
    # Consent covers booking notices too, not only reminders.
    if not patient.reminder_consent:
        return []
    policy = appointment.site.reminder_policy_or_default
    choice = channel_for(patient=patient, policy=policy)
    if choice.channel is None:
        return []
    # UTC, so offsets and the stored instants are elapsed time whatever zone the caller's datetime carried.
    zone, quiet, starts_at = patient.zone, quiet_hours(policy), appointment.starts_at.astimezone(dt.UTC)

    def row(kind: str, send_at: dt.datetime, offset_minutes: int | None = None) -> Reminder:
        return Reminder(
            appointment=appointment,
            kind=kind,
            channel=choice.channel,
            fallback_reason=choice.fallback_reason,
            offset_minutes=offset_minutes,
            session_starts_at=starts_at,
            due_at=send_at,
            next_attempt_at=send_at,
        )

    rows = [row(notice, notice_send_time(now=now, session_starts_at=starts_at, zone=zone, quiet=quiet))]
    send_times = reminder_send_times(
        offsets_hours=policy.offsets_hours, session_starts_at=starts_at, now=now, zone=zone, quiet=quiet
    )
    rows += [row(ReminderKind.REMINDER, send_at, minutes) for minutes, send_at in send_times.items()]
    return rows


def _without_existing(appointment: Appointment, rows: list[Reminder]) -> list[Reminder]:
    # A retried call, or a session moved back to a time it already had, must not
    # repeat a reminder or confirmation already queued or sent for that start.
    existing = set(
        appointment.reminders.filter(
            session_starts_at=appointment.starts_at, kind__in=[ReminderKind.REMINDER, ReminderKind.CONFIRMATION]
        )
        .exclude(status=ReminderStatus.CANCELLED)
        .values_list("kind", "offset_minutes")
    )
    return [row for row in rows if (row.kind, row.offset_minutes) not in existing]


def reminders_schedule(*, appointment: Appointment, now: dt.datetime, just_inserted: bool = False) -> list[Reminder]:
    """For a newly booked appointment: the booking confirmation (due now, or at the
    end of quiet hours) and one reminder per policy offset still ahead.

    `just_inserted`: the caller created the row in this transaction, so nothing can be
    queued for it yet and the look for existing rows is skipped."""
    if appointment.status not in UPCOMING_STATUSES:
        return []
    # One INSERT at most: atomic on its own, and the caller's transaction holds the rest.
    with transaction.atomic(savepoint=False):
        rows = _new_rows(appointment=appointment, now=now, notice=ReminderKind.CONFIRMATION)
        if not just_inserted:
            rows = _without_existing(appointment, rows)
        return Reminder.objects.bulk_create(rows)


def reminders_resume(*, patient: Patient, now: dt.datetime) -> int:
    """Once `patient` consents (again): the reminders still ahead for each upcoming session that
    has none queued for its start (reminders_replan; no booking confirmation: those sessions are
    booked already). Booking makes no rows while consent is off, and the dispatcher stops rows
    when it is withdrawn, so without this a patient who opts in is reminded only of sessions
    booked afterwards. Returns how many reminders were queued."""
    if not patient.reminder_consent:
        return 0
    with transaction.atomic():
        # Locked before the sessions are read: a booking committing this moment (it holds the
        # patient's row) is waited for and then reminded here too.
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        return reminders_replan(appointments=Appointment.objects.filter(patient=patient), now=now)


REPLANNED = "Planned again: the patient's details or the clinic's reminder policy changed."


def reminders_replan(*, appointments: QuerySet[Appointment], now: dt.datetime) -> int:
    """Plan again the reminders still ahead of upcoming sessions after what they were planned
    from changed: the patient's time zone, contact details or channel, or the site's policy (its
    offsets, quiet hours, channels). A reminder whose time is unchanged stays as queued; one whose
    time moved is replaced; one at an offset the clinic stopped is stopped; one at an offset it
    added, or for a patient who could not be reached before, is queued. Reminders sent, being
    sent or already due are left to the dispatcher, and no notice goes out: the session itself did
    not change. Returns how many reminders were queued."""
    upcoming_rows = appointments.filter(status__in=UPCOMING_STATUSES, starts_at__gt=now)
    with transaction.atomic():
        # Two re-plans of one patient at once (a double click, the portal and the API, a policy save
        # beside a patient's) take turns, in one order: the second finds the first's rows.
        patient_ids = sorted(set(upcoming_rows.values_list("patient_id", flat=True)))
        if not patient_ids:
            return 0
        list(Patient.objects.select_for_update().filter(pk__in=patient_ids).order_by("pk").values_list("pk"))
        upcoming = list(upcoming_rows.select_related("patient__home_site", "site__reminder_policy"))
        # Not yet due, not claimed: these may be replaced (a row the dispatcher holds is skipped).
        replaceable = {
            (row.appointment_id, row.session_starts_at, row.offset_minutes): row
            for row in Reminder.objects.select_for_update(skip_locked=True).filter(
                appointment__in=upcoming, kind=ReminderKind.REMINDER, status=ReminderStatus.PENDING, due_at__gt=now
            )
        }
        # Everything else queued or sent for the session's start stays as it is and is not planned again.
        kept = {
            key
            for key in Reminder.objects.filter(appointment__in=upcoming, kind=ReminderKind.REMINDER)
            .exclude(status=ReminderStatus.CANCELLED)
            .exclude(pk__in=[row.pk for row in replaceable.values()])
            .values_list("appointment_id", "session_starts_at", "offset_minutes")
        }
        planned = {
            (appointment.pk, appointment.starts_at, row.offset_minutes): row
            for appointment in upcoming
            for row in _new_rows(appointment=appointment, now=now, notice=ReminderKind.CONFIRMATION)
            if row.kind == ReminderKind.REMINDER
        }
        stop = [row.pk for key, row in replaceable.items() if key not in planned or planned[key].due_at != row.due_at]
        add = [
            row
            for key, row in planned.items()
            if key not in kept and (key not in replaceable or replaceable[key].pk in stop)
        ]
        Reminder.objects.filter(pk__in=stop).update(status=ReminderStatus.CANCELLED, last_error=REPLANNED)
        return len(Reminder.objects.bulk_create(add))


def _stop_unsent(appointment: Appointment, *, reason: str, kinds: list[str] | None = None) -> int:
    # Rows being sent right now are stopped too: the dispatcher's last check
    # before sending is a conditional UPDATE on status 'sending', which waits
    # for this transaction's row lock and then finds the row cancelled.
    unsent = appointment.reminders.filter(status__in=UNSENT)
    if kinds is not None:
        unsent = unsent.filter(kind__in=kinds)
    return unsent.update(status=ReminderStatus.CANCELLED, last_error=reason)


def _calendar_sequence_raise(appointment: Appointment) -> None:
    # In the database, so two changes in flight each add one; mirrored on the
    # instance the caller holds, which later renders the .ics.
    Appointment.objects.filter(pk=appointment.pk).update(calendar_sequence=F("calendar_sequence") + 1)
    appointment.calendar_sequence = Appointment.objects.values_list("calendar_sequence", flat=True).get(
        pk=appointment.pk
    )


def reminders_reschedule(*, appointment: Appointment, now: dt.datetime) -> list[Reminder]:
    """After a move (the appointment already saved with its new time): stop what
    was queued for the old time, queue the new reminders and a change notice.
    The calendar SEQUENCE goes up whether or not the patient gets messages: the
    portal's .ics and feed must still supersede older copies."""
    with transaction.atomic():
        _calendar_sequence_raise(appointment)
        if appointment.status not in UPCOMING_STATUSES:
            return []
        _stop_unsent(appointment, reason="The session was moved.")
        rows = _new_rows(appointment=appointment, now=now, notice=ReminderKind.CHANGE)
        change, reminders = rows[:1], rows[1:]
        return Reminder.objects.bulk_create(change + _without_existing(appointment, reminders))


def reminders_cancel(*, appointment: Appointment, now: dt.datetime) -> None:
    """Stop everything queued for the appointment and queue a cancellation notice (once)."""
    with transaction.atomic():
        _calendar_sequence_raise(appointment)
        _stop_unsent(
            appointment,
            reason="The session was cancelled.",
            kinds=[ReminderKind.REMINDER, ReminderKind.CONFIRMATION, ReminderKind.CHANGE],
        )
        if (
            appointment.reminders.filter(kind=ReminderKind.CANCELLATION)
            .exclude(status=ReminderStatus.CANCELLED)
            .exists()
        ):
            return
        Reminder.objects.bulk_create(_new_rows(appointment=appointment, now=now, notice=ReminderKind.CANCELLATION)[:1])


def calendar_feed_rotate(*, patient: Patient) -> Patient:
    """A new secret for the private calendar URL (also turns a revoked feed back
    on); the old URL stops working at once."""
    with transaction.atomic():
        patient.calendar_token = new_calendar_token()
        patient.save(update_fields=["calendar_token", "updated_at"])
    return patient


def calendar_feed_revoke(*, patient: Patient) -> Patient:
    """No private calendar URL at all until the patient asks for a new one."""
    with transaction.atomic():
        patient.calendar_token = None
        patient.save(update_fields=["calendar_token", "updated_at"])
    return patient


# From this local hour (the site's zone) the front desk gets tomorrow's list; a run
# missed at that hour (an outage, a slow beat) still sends it later the same day.
FRONT_DESK_LIST_HOUR = 16


def _front_desk_list_claim(*, site: Site, day: dt.date, now: dt.datetime) -> FrontDeskListDelivery | None:
    # Committed before the email goes out, so a second beat or an overlapping run
    # finds the row and sends nothing; the unique constraint settles a race.
    try:
        with transaction.atomic():
            return FrontDeskListDelivery.objects.create(site=site, day=day, claimed_at=now)
    except IntegrityError:
        return None


def front_desk_lists_send_due(*, now: dt.datetime) -> int:
    """Each site past FRONT_DESK_LIST_HOUR locally gets tomorrow's unconfirmed
    sessions and missing rides by email, once per site and day. Returns how many
    lists this call sent. A site whose list could not be sent is tried again next run; the other
    sites still get theirs, and the first failure is raised once all were tried."""
    sent = 0
    failure: Exception | None = None
    for site in Site.objects.all():
        local_now = now.astimezone(site.zone)
        if local_now.hour < FRONT_DESK_LIST_HOUR:
            continue
        # The site's front desk, and the clinic-wide front desk who works at every site.
        # Active as staff and as a login: one who left (either switched off) gets no patient list.
        desk = StaffMember.objects.filter(active=True, user__is_active=True, role=Role.FRONT_DESK).filter(
            Q(sites=site) | Q(all_sites=True)
        )
        logins = {user_id: email for user_id, email in desk.values_list("user_id", "user__email") if email}
        recipients = sorted(set(logins.values()))
        if not recipients:
            continue
        day = local_now.date() + dt.timedelta(days=1)
        claim = _front_desk_list_claim(site=site, day=day, now=now)
        if claim is None:
            continue
        try:
            daily = front_desk_daily_list(site=site, day=day)
            with timezone.override(site.zone):
                body = render_to_string("scheduling/reminders/front_desk_daily_list.txt", {"daily": daily})
            send_mail(
                subject=f"{site.name}: tomorrow, {len(daily.not_confirmed)} not confirmed, "
                f"{len(daily.without_ride)} without a ride",
                message=body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=recipients,
            )
        except Exception as exc:
            # Nothing went out (the list could not be built, or sent): give the day back so the
            # next hourly run tries again, and go on with the other sites.
            claim.delete()
            logger.warning("The front-desk list of %s for %s could not be sent.", site, day, exc_info=True)
            failure = failure or exc
            continue
        sent += 1
        # Names and phone numbers went to each of these logins' mailboxes: logged as a page showing
        # them would be. After the send, so only a list that went out is recorded (the claim keeps
        # it from going, or being recorded, twice).
        shown = [a.patient_id for a in (*daily.not_confirmed, *daily.without_ride)]
        try:
            access_log_write_mailed(
                recipient_ids=logins,
                what=f"Front-desk daily list of {site.name} for {day.isoformat()}",
                patient_ids=shown,
            )
        except Exception as exc:
            logger.error(
                "The front-desk list of %s for %s was sent but not written to the access log.", site, day, exc_info=True
            )
            failure = failure or exc
    if failure is not None:
        raise failure
    return sent
