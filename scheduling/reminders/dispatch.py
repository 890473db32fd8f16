"""The dispatcher: claim due rows, send them outside any transaction, record
what happened. Many workers may run it at once; each row goes out once.

A claim sets the row to 'sending' with a lease. The lease's expiry instant
doubles as the claim's fencing token: every later write filters on it, so a
dispatcher that lost its lease (it stalled, the row was re-claimed) can no
longer change the row."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterator

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from scheduling.models import (
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    Reminder,
    ReminderAttempt,
    ReminderKind,
    ReminderStatus,
)
from scheduling.reminders.channels import Outbox
from scheduling.reminders.rendering import nearest_sent_above, render_message
from scheduling.reminders.timing import (
    QuietHours,
    choose_channel,
    notice_send_time,
    quiet_period_around,
    reminder_send_time,
    retry_delay,
)

logger = logging.getLogger(__name__)

# Why a reminder is not sent when one nearer the session is due as well (`_overtaken`).
OVERTAKEN = "A reminder nearer the session was due as well; only that one is sent."


def lease_length() -> dt.timedelta:
    """REMINDER_LEASE_SECONDS: longer than any single send takes (settings refuse
    a send timeout that is not shorter), short enough that a crashed worker's
    reminders are only minutes late."""
    return dt.timedelta(seconds=settings.REMINDER_LEASE_SECONDS)


@dataclasses.dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    deferred: int = 0


@dataclasses.dataclass(frozen=True)
class Claim:
    reminder_ids: list[int]
    lease_expires_at: dt.datetime


def _due(now: dt.datetime) -> Q:
    return Q(status=ReminderStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=ReminderStatus.SENDING, lease_expires_at__lte=now
    )


def claim_due(*, now: dt.datetime, batch_size: int) -> Claim:
    """Take up to `batch_size` due rows in a short transaction; rows another
    dispatcher holds locked are skipped, not waited for."""
    lease_expires_at = now + lease_length()
    with transaction.atomic():
        ids = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(_due(now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        if ids:
            Reminder.objects.filter(pk__in=ids).update(status=ReminderStatus.SENDING, lease_expires_at=lease_expires_at)
    return Claim(reminder_ids=ids, lease_expires_at=lease_expires_at)


def _db_datetime(value: dt.datetime) -> object:
    # Raw SQL must spell an instant as the ORM stored it: on SQLite that is naive
    # UTC text, and the lease is compared for equality (it is the fencing token).
    return connection.ops.adapt_datetimefield_value(value)


def _claim_check(*, reminder_id: int, lease: dt.datetime, kind: str) -> bool:
    """The last word before sending, in the database: the claim is still ours
    and the row still describes the appointment as it is now. Counts the
    attempt in the same statement.

    A move or cancel that committed since the batch was loaded fails the EXISTS;
    one still in flight holds this row's lock (it cancels unsent rows), so this
    UPDATE waits for it and then re-checks the row, finding it cancelled."""
    # One named placeholder per status: a tuple parameter expands to a list on
    # psycopg2 only, and SQLite (the embedded default) refuses to bind it.
    upcoming = {f"upcoming_{n}": status.value for n, status in enumerate(UPCOMING_STATUSES)}
    if kind == ReminderKind.CANCELLATION:
        appointment_matches = "a.status = %(cancelled)s"
    else:
        placeholders = ", ".join(f"%({name})s" for name in upcoming)
        appointment_matches = f"a.status IN ({placeholders}) AND a.starts_at = r.session_starts_at"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Reminder._meta.db_table} AS r SET attempts = r.attempts + 1
             WHERE r.id = %(id)s AND r.status = %(sending)s AND r.lease_expires_at = %(lease)s
               AND EXISTS (
                   SELECT 1 FROM {Appointment._meta.db_table} AS a
                    WHERE a.id = r.appointment_id AND {appointment_matches}
               )
            """,  # noqa: S608 - table names come from model metadata, values are parameters
            {
                "id": reminder_id,
                "lease": _db_datetime(lease),
                "sending": ReminderStatus.SENDING.value,
                "cancelled": AppointmentStatus.CANCELLED.value,
                **upcoming,
            },
        )
        return cursor.rowcount == 1


def _reason_not_to_send(reminder: Reminder, now: dt.datetime) -> str:
    appointment = reminder.appointment
    if not appointment.patient.reminder_consent:
        return "The patient no longer consents to reminders."
    if now >= reminder.session_starts_at:
        return "The session has already started."
    if reminder.kind == ReminderKind.CANCELLATION:
        return "" if appointment.status == AppointmentStatus.CANCELLED else "The session is no longer cancelled."
    if appointment.status not in UPCOMING_STATUSES:
        return "The session was cancelled."
    if appointment.starts_at != reminder.session_starts_at:
        return "The session was moved."
    if reminder.kind == ReminderKind.REMINDER and reminder.offset_minutes is not None:
        # The clinic's policy as it is now: an offset it has stopped since the row was planned is not sent.
        offsets = {hours * 60 for hours in appointment.site.reminder_policy_or_default.offsets_hours}
        if reminder.offset_minutes not in offsets:
            return "The clinic no longer sends this reminder."
        if _overtaken(reminder, now, offsets):
            return OVERTAKEN
    return ""


def _overtaken(reminder: Reminder, now: dt.datetime, offsets_minutes: set[int]) -> bool:
    """Whether a reminder nearer the session, at an offset the clinic still sends, is due too (or
    went out already): after an outage (workers stopped, the provider down) a session's 72 h, 24 h
    and 2 h reminders can all be due at once, and the patient gets the nearest one only, as
    planning keeps only the nearer of two reminders that quiet hours put on the same instant.

    The rows are read only once a nearer reminder's planned time has come (worked out as planning
    does, quiet hours included), so a reminder sent at its own time costs no statement more. A
    nearer one that failed for good overtakes nothing; `deliver` tries a session's nearer
    reminders first, so a provider's refusal of it leaves the farther ones to go."""
    nearer = [offset for offset in offsets_minutes if offset < (reminder.offset_minutes or 0)]
    if not nearer:
        return False
    policy = reminder.appointment.site.reminder_policy_or_default
    quiet = QuietHours(start=policy.quiet_hours_start, end=policy.quiet_hours_end)
    zone = reminder.appointment.patient.zone
    first_due = min(
        reminder_send_time(
            due_at=reminder.session_starts_at - dt.timedelta(minutes=offset),
            session_starts_at=reminder.session_starts_at,
            zone=zone,
            quiet=quiet,
        )
        for offset in nearer
    )
    if now < first_due:
        return False
    return Reminder.objects.filter(
        appointment_id=reminder.appointment_id,
        kind=ReminderKind.REMINDER,
        session_starts_at=reminder.session_starts_at,
        offset_minutes__in=nearer,
        status__in=(ReminderStatus.PENDING, ReminderStatus.SENDING, ReminderStatus.SENT),
        due_at__lte=now,
    ).exists()


@contextlib.contextmanager
def _asynchronous_commit() -> Iterator[None]:
    """Bookkeeping commits that do not wait for the WAL flush, for this batch only.

    Each row takes three small commits (check, attempt, result); waiting for
    fsync on each would cap a worker near 100 rows/s. PostgreSQL's asynchronous
    commit cannot corrupt anything; a database crash may forget the last few
    hundred milliseconds of them, which at worst means a message that went out
    is sent again after its lease, the same outcome as a worker crash between
    sending and recording. Booking writes keep full durability: the setting is
    per session and reset after the batch."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def deliver(*, claim: Claim, now: dt.datetime, claimed_at: dt.datetime | None = None) -> DispatchReport:
    """Send the claimed rows and record each outcome. `claimed_at` is the clock's reading when the
    claim was made (default: now): the time since then counts against the claim's lease."""
    report = DispatchReport(claimed=len(claim.reminder_ids))
    if not claim.reminder_ids:
        return report
    reminders = (
        Reminder.objects.filter(pk__in=claim.reminder_ids)
        .select_related(
            "appointment__patient__home_site",
            "appointment__site__reminder_policy",
            "appointment__plan__protocol",
        )
        .annotate(nearest_sent_offset_above=nearest_sent_above())  # whether to ask for the questionnaire
    )
    send_timeout = dt.timedelta(seconds=settings.REMINDER_SEND_TIMEOUT_SECONDS)
    # The lease runs from `now`; the time since the claim (helpers enqueued in between included) is
    # read on the clock it was made on.
    started = claimed_at or timezone.now()
    # Each session's rows together, its nearer reminders first: when several are due at once (after
    # an outage) the nearest goes and overtakes the rest, and if the provider refuses it for good the
    # farther ones still go. (The claim took the longest-due rows; their order within it is free.)
    loaded = sorted(reminders, key=lambda r: (r.appointment_id, r.session_starts_at, r.offset_minutes or 0))
    with _asynchronous_commit(), Outbox() as outbox:
        for index, reminder in enumerate(loaded):
            if now + (timezone.now() - started) + send_timeout >= claim.lease_expires_at:
                # Too little of the lease left for one more send (a slow provider, a long batch):
                # the rest go back to pending for the next beat before another dispatcher may
                # take them over, so no message is sent while a second dispatcher sends it too.
                rest = [r.pk for r in loaded[index:]]
                Reminder.objects.filter(
                    pk__in=rest, status=ReminderStatus.SENDING, lease_expires_at=claim.lease_expires_at
                ).update(status=ReminderStatus.PENDING, lease_expires_at=None)
                report.deferred += len(rest)
                break
            try:
                _deliver_one(reminder=reminder, lease=claim.lease_expires_at, now=now, outbox=outbox, report=report)
            except SoftTimeLimitExceeded:
                # The task's time is up. The rows not yet started go back to pending now; the one
                # in hand keeps its lease, as a crashed worker's would: its message may have gone out.
                rest = [r.pk for r in loaded[index + 1 :]]
                Reminder.objects.filter(
                    pk__in=rest, status=ReminderStatus.SENDING, lease_expires_at=claim.lease_expires_at
                ).update(status=ReminderStatus.PENDING, lease_expires_at=None)
                raise
    return report


def _record_sent(
    *,
    reminder_id: int,
    lease: dt.datetime,
    now: dt.datetime,
    channel: str,
    fallback_reason: str,
    provider_message_id: str,
) -> bool:
    """The attempt row always (the message went out), the reminder only while
    the lease is ours: on PostgreSQL one statement, so one round trip per sent
    message on the hot path."""
    if connection.vendor != "postgresql":
        return _record_sent_portable(
            reminder_id=reminder_id,
            lease=lease,
            now=now,
            channel=channel,
            fallback_reason=fallback_reason,
            provider_message_id=provider_message_id,
        )
    attempt, row = ReminderAttempt._meta.db_table, Reminder._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH attempt AS (
                INSERT INTO {attempt} (reminder_id, attempted_at, channel, succeeded, provider_message_id, error)
                VALUES (%(id)s, %(now)s, %(channel)s, TRUE, %(provider_id)s, '')
            )
            UPDATE {row}
               SET status = %(sent)s, sent_at = %(now)s, lease_expires_at = NULL, channel = %(channel)s,
                   fallback_reason = %(fallback)s, provider_message_id = %(provider_id)s, last_error = '',
                   updated_at = %(now)s
             WHERE id = %(id)s AND status = %(sending)s AND lease_expires_at = %(lease)s
            """,  # noqa: S608 - table names come from model metadata, values are parameters
            {
                "id": reminder_id,
                "now": _db_datetime(now),
                "channel": channel,
                "provider_id": provider_message_id,
                "fallback": fallback_reason,
                "sent": ReminderStatus.SENT.value,
                "sending": ReminderStatus.SENDING.value,
                "lease": _db_datetime(lease),
            },
        )
        return cursor.rowcount == 1


def _record_sent_portable(
    *,
    reminder_id: int,
    lease: dt.datetime,
    now: dt.datetime,
    channel: str,
    fallback_reason: str,
    provider_message_id: str,
) -> bool:
    # SQLite has no data-modifying CTE; two statements in one transaction say the same.
    with transaction.atomic():
        ReminderAttempt.objects.create(
            reminder_id=reminder_id,
            attempted_at=now,
            channel=channel,
            succeeded=True,
            provider_message_id=provider_message_id,
        )
        return (
            Reminder.objects.filter(pk=reminder_id, status=ReminderStatus.SENDING, lease_expires_at=lease).update(
                status=ReminderStatus.SENT,
                sent_at=now,
                lease_expires_at=None,
                channel=channel,
                fallback_reason=fallback_reason,
                provider_message_id=provider_message_id,
                last_error="",
                updated_at=now,
            )
            == 1
        )


def _quiet_hours_wait(reminder: Reminder, now: dt.datetime) -> tuple[dt.datetime | None, str]:
    """Rows are planned outside quiet hours, but one can still fall due inside
    them: a lease expired, the workers were down, a retry backed off into the
    night. Checked again at send time, in the patient's zone as it is now.
    Returns (send later at, "") to defer, (None, reason) to give up, (None, "") to send."""
    policy = reminder.appointment.site.reminder_policy_or_default
    zone = reminder.appointment.patient.zone
    quiet = QuietHours(start=policy.quiet_hours_start, end=policy.quiet_hours_end)
    if reminder.kind != ReminderKind.REMINDER:
        # News about the booking waits for the morning only if it still arrives before the session.
        send_at = notice_send_time(now=now, session_starts_at=reminder.session_starts_at, zone=zone, quiet=quiet)
        return (send_at if send_at > now else None), ""
    period = quiet_period_around(now, zone=zone, quiet=quiet)
    if period is None:
        return None, ""
    quiet_end = period[1]
    if quiet_end < reminder.session_starts_at:
        return quiet_end, ""
    return None, "Quiet hours last until the session starts."


def _deliver_one(
    *, reminder: Reminder, lease: dt.datetime, now: dt.datetime, outbox: Outbox, report: DispatchReport
) -> None:
    ours = Reminder.objects.filter(pk=reminder.pk, status=ReminderStatus.SENDING, lease_expires_at=lease)
    appointment = reminder.appointment
    patient = appointment.patient
    policy = appointment.site.reminder_policy_or_default

    reason = _reason_not_to_send(reminder, now)
    choice = choose_channel(
        preferred=patient.preferred_channel,
        has_email=bool(patient.email),
        has_mobile=bool(patient.mobile_phone),
        email_enabled=policy.email_enabled,
        sms_enabled=policy.sms_enabled,
    )
    if not reason and choice.channel is None:
        reason = f"No way to reach the patient: {choice.fallback_reason}."
    if not reason and reminder.attempts >= policy.max_attempts:
        # Every attempt so far was claimed and then lost (worker crashes mid-send).
        ours.update(status=ReminderStatus.FAILED, lease_expires_at=None, last_error="Gave up after lost attempts.")
        report.failed += 1
        return
    if not reason:
        later, reason = _quiet_hours_wait(reminder, now)
        if later is not None:
            # Back to pending without counting an attempt: nothing was tried.
            ours.update(status=ReminderStatus.PENDING, lease_expires_at=None, next_attempt_at=later)
            report.deferred += 1
            return
    if reason:
        ours.update(status=ReminderStatus.CANCELLED, lease_expires_at=None, last_error=reason)
        report.skipped += 1
        return

    if not _claim_check(reminder_id=reminder.pk, lease=lease, kind=reminder.kind):
        ours.update(
            status=ReminderStatus.CANCELLED, lease_expires_at=None, last_error="The session changed before sending."
        )
        report.skipped += 1
        return
    attempts = reminder.attempts + 1

    channel = choice.channel
    try:
        message = render_message(reminder=reminder, channel=channel, now=now)
        provider_message_id = outbox.channel(channel).send(message)
    except SoftTimeLimitExceeded:
        raise  # not the provider's failure: the task ran out of time (see deliver)
    except Exception as exc:
        logger.warning("Reminder %s attempt %s by %s failed: %s", reminder.pk, attempts, channel, exc, exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
        ReminderAttempt.objects.create(
            reminder=reminder, attempted_at=now, channel=channel, succeeded=False, error=error
        )
        quiet = QuietHours(start=policy.quiet_hours_start, end=policy.quiet_hours_end)
        due_again = now + retry_delay(attempts)
        if reminder.kind == ReminderKind.REMINDER:
            retry_at = reminder_send_time(
                due_at=due_again, session_starts_at=reminder.session_starts_at, zone=patient.zone, quiet=quiet
            )
        else:
            # News of a booking, a change or a cancellation is retried by its own rule: at night, when
            # quiet hours last until the session, it goes out anyway (the reminders' rule would
            # place it before quiet hours began, in the past, and give it up after one attempt).
            retry_at = notice_send_time(
                now=due_again, session_starts_at=reminder.session_starts_at, zone=patient.zone, quiet=quiet
            )
        if attempts >= policy.max_attempts or not now < retry_at < reminder.session_starts_at:
            ours.update(status=ReminderStatus.FAILED, lease_expires_at=None, last_error=error)
            report.failed += 1
        else:
            ours.update(
                status=ReminderStatus.PENDING, lease_expires_at=None, next_attempt_at=retry_at, last_error=error
            )
            report.retried += 1
        return

    recorded = _record_sent(
        reminder_id=reminder.pk,
        lease=lease,
        now=now,
        channel=channel,
        fallback_reason=choice.fallback_reason,
        provider_message_id=provider_message_id,
    )
    if not recorded:
        # Sent, but the row was re-claimed or cancelled meanwhile; the attempt row tells the truth.
        logger.warning("Reminder %s was sent after its lease was lost.", reminder.pk)
    report.sent += 1


def reminders_dispatch_due(
    *, now: dt.datetime | None = None, batch_size: int = 100, on_full_claim: Callable[[], None] | None = None
) -> DispatchReport:
    """One batch: claim (committed), then send and record each row. `on_full_claim` is called when
    the claim took a whole batch (a backlog), before anything is sent: the beat task enqueues its
    helpers there, so they work alongside this batch instead of waiting for it to be sent."""
    now = now or timezone.now()
    claimed_at = timezone.now()
    claim = claim_due(now=now, batch_size=batch_size)
    if on_full_claim is not None and len(claim.reminder_ids) >= batch_size:
        on_full_claim()
    return deliver(claim=claim, now=now, claimed_at=claimed_at)
