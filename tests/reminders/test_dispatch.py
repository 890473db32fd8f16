"""The dispatcher: each due row goes out once, on time, in the patient's words and zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core import mail

from clinic.models import Channel
from scheduling.models import Reminder, ReminderAttempt, ReminderKind, ReminderStatus
from scheduling.reminders.dispatch import claim_due, deliver, lease_length
from scheduling.reminders.services import (
    reminders_cancel,
    reminders_dispatch_due,
    reminders_reschedule,
    reminders_schedule,
)
from tests.reminders.backends import FailingSmsBackend, FailsOnceSmsBackend
from tests.reminders.helpers import UTC, cancel, emails_for, make_appointment, move, rows

pytestmark = pytest.mark.django_db

LEASE = dt.timedelta(seconds=300)  # REMINDER_LEASE_SECONDS' default

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)  # Sunday 10:00 in New York
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York, 15:00 in London


def booked(**kwargs) -> tuple:
    appointment = make_appointment(starts_at=kwargs.pop("starts_at", SESSION), **kwargs)
    reminders_schedule(appointment=appointment, now=NOW)
    return appointment, {r.offset_minutes: r for r in rows(appointment, kind=ReminderKind.REMINDER)}


def test_nothing_is_sent_before_it_is_due():
    booked()
    mail.outbox.clear()
    report = reminders_dispatch_due(now=NOW - dt.timedelta(seconds=1))
    assert (report.claimed, mail.outbox) == (0, [])


def test_due_reminder_is_sent_once_with_the_session_in_the_patients_local_time():
    appointment, reminders = booked(patient_zone="Europe/London")
    two_hours = reminders[120]
    first = reminders_dispatch_due(now=NOW)
    assert first.sent == 1  # the booking confirmation
    report = reminders_dispatch_due(now=two_hours.due_at)
    # The 72 h and 24 h ones were overdue with the 2 h one due too: only the nearest goes.
    assert (report.sent, report.skipped, report.claimed) == (1, 2, 3)
    again = reminders_dispatch_due(now=two_hours.due_at + dt.timedelta(hours=1))
    assert again.claimed == 0

    [message] = emails_for(two_hours)
    assert message.to == [appointment.patient.email]
    assert "Friday 27 November 2026 at 15:00 (Europe/London)" in message.body
    assert "Friday 27 November, 15:00" in message.subject
    assert "Arrange for someone to drive you home" in message.body
    assert "https://clinic.example/r/confirm/" in message.body and "https://clinic.example/r/cancel/" in message.body
    two_hours.refresh_from_db()
    assert (two_hours.status, two_hours.attempts, two_hours.sent_at) == (ReminderStatus.SENT, 1, two_hours.due_at)
    assert two_hours.provider_message_id == message.extra_headers["Message-ID"]
    [attempt] = two_hours.attempt_log.all()
    assert (attempt.succeeded, attempt.provider_message_id) == (True, two_hours.provider_message_id)


def test_reminder_text_uses_the_new_offset_after_the_clocks_change():
    # Monday 2 November 09:00 in New York is 14:00 UTC (EST since Sunday 1 November);
    # the 72 h reminder goes out while it is still EDT there.
    booked_at = dt.datetime(2026, 10, 29, 15, tzinfo=UTC)
    session = dt.datetime(2026, 11, 2, 14, tzinfo=UTC)
    appointment = make_appointment(starts_at=session, with_plan=False)
    reminders_schedule(appointment=appointment, now=booked_at)
    reminders = {r.offset_minutes: r for r in rows(appointment, kind=ReminderKind.REMINDER)}
    assert reminders[72 * 60].due_at.astimezone(appointment.patient.zone).utcoffset() == dt.timedelta(hours=-4)
    for offset in (72 * 60, 24 * 60):
        reminders_dispatch_due(now=reminders[offset].due_at)
        [message] = emails_for(reminders[offset])
        assert "Monday 2 November 2026 at 09:00 (America/New_York)" in message.body


def test_sms_reminder_records_the_providers_message_id(sms_outbox):
    _, reminders = booked(preferred_channel=Channel.SMS)
    reminders_dispatch_due(now=reminders[120].due_at)
    sent = Reminder.objects.get(pk=reminders[120].pk)
    [sms] = [m for m in sms_outbox if m.message_id == sent.provider_message_id]
    assert sms.to == "+12025550199"
    assert "Fri 27 Nov 10:00" in sms.body and "/r/confirm/" in sms.body
    assert ReminderAttempt.objects.get(reminder=sent).provider_message_id == sms.message_id


def test_sms_to_a_patient_whose_mobile_was_removed_goes_by_email_and_says_why(sms_outbox):
    appointment, reminders = booked(preferred_channel=Channel.SMS)
    appointment.patient.mobile_phone = ""
    appointment.patient.save(update_fields=["mobile_phone"])
    reminders_dispatch_due(now=reminders[120].due_at)
    sent = Reminder.objects.get(pk=reminders[120].pk)
    assert (sent.status, sent.channel) == (ReminderStatus.SENT, Channel.EMAIL)
    assert "no mobile number" in sent.fallback_reason
    assert len(emails_for(sent)) == 1


def test_after_a_move_the_old_reminder_is_never_sent_and_the_new_one_is():
    appointment, old = booked()
    later = SESSION + dt.timedelta(days=2)
    reminders_reschedule(appointment=move(appointment, to=later), now=NOW)
    mail.outbox.clear()
    reminders_dispatch_due(now=old[120].due_at)
    assert emails_for(old[120]) == []
    new = rows(appointment, kind=ReminderKind.REMINDER, session_starts_at=later, offset_minutes=120)[0]
    reminders_dispatch_due(now=new.due_at)
    assert len(emails_for(new)) == 1
    assert "Sunday 29 November 2026 at 10:00" in emails_for(new)[0].body
    change = rows(appointment, kind=ReminderKind.CHANGE)[0]
    assert "moved" in emails_for(change)[0].body


def test_a_reminder_claimed_before_the_move_is_not_sent():
    appointment, reminders = booked()
    claim = claim_due(now=reminders[120].due_at, batch_size=100)  # a dispatcher has claimed it ...
    reminders_reschedule(appointment=move(appointment, to=SESSION + dt.timedelta(days=1)), now=NOW)  # ... then the move
    mail.outbox.clear()
    report = deliver(claim=claim, now=reminders[120].due_at)
    assert emails_for(reminders[120]) == []
    assert report.sent == 0
    assert Reminder.objects.get(pk=reminders[120].pk).status == ReminderStatus.CANCELLED


def test_a_reminder_loaded_before_the_move_committed_is_not_sent(monkeypatch):
    # The move commits after the dispatcher loaded the batch but before it sends:
    # the database check at send time catches what the loaded copy cannot.
    appointment, reminders = booked()
    due = reminders[120].due_at
    claim = claim_due(now=due, batch_size=100)
    import scheduling.reminders.dispatch as dispatch

    real_reason = dispatch._reason_not_to_send

    def move_meanwhile(reminder, now):
        if reminder.pk == reminders[120].pk:
            reminders_reschedule(appointment=move(appointment, to=SESSION + dt.timedelta(days=1)), now=NOW)
        return real_reason(reminder, now)

    monkeypatch.setattr(dispatch, "_reason_not_to_send", move_meanwhile)
    mail.outbox.clear()
    deliver(claim=claim, now=due)
    assert emails_for(reminders[120]) == []
    assert Reminder.objects.get(pk=reminders[120].pk).status == ReminderStatus.CANCELLED


def test_after_a_cancel_no_reminder_is_sent_but_the_cancellation_notice_is():
    appointment, _ = booked()
    reminders_cancel(appointment=cancel(appointment, now=NOW), now=NOW)
    mail.outbox.clear()
    reminders_dispatch_due(now=SESSION - dt.timedelta(minutes=1))
    [message] = mail.outbox
    assert message.subject.startswith("Cancelled: your session on Friday 27 November, 10:00")
    assert "/r/confirm/" not in message.body


def test_reminder_for_a_session_cancelled_without_the_service_is_skipped_at_send_time():
    appointment, reminders = booked()
    cancel(appointment, now=NOW)  # e.g. a data fix that bypassed reminders_cancel
    report = reminders_dispatch_due(now=reminders[120].due_at)
    assert (report.sent, report.skipped) == (0, 4)
    assert Reminder.objects.get(pk=reminders[120].pk).last_error == "The session was cancelled."


def test_withdrawn_consent_stops_queued_reminders():
    appointment, reminders = booked()
    appointment.patient.reminder_consent = False
    appointment.patient.save(update_fields=["reminder_consent"])
    report = reminders_dispatch_due(now=reminders[120].due_at)
    assert (report.sent, report.skipped, mail.outbox) == (0, 4, [])


def test_a_dispatcher_killed_after_claiming_loses_nothing():
    _, reminders = booked()
    due = reminders[120].due_at
    claim_due(now=due, batch_size=100)  # claimed, then the worker died: nothing sent, nothing recorded
    mail.outbox.clear()
    assert reminders_dispatch_due(now=due + LEASE - dt.timedelta(seconds=1)).claimed == 0
    report = reminders_dispatch_due(now=due + LEASE)
    # Every row is settled: the confirmation and the 2 h reminder sent, the 72 h and 24 h ones
    # overtaken by the 2 h one (test_overdue_reminders.py).
    assert (report.sent, report.skipped) == (2, 2)
    assert len(emails_for(reminders[120])) == 1
    assert reminders_dispatch_due(now=due + 3 * LEASE).claimed == 0
    assert len(emails_for(reminders[120])) == 1


def test_a_dispatcher_that_lost_its_lease_cannot_send_or_record():
    _, reminders = booked()
    due = reminders[120].due_at
    stalled = claim_due(now=due, batch_size=100)
    reminders_dispatch_due(now=due + LEASE)  # the lease ran out; another dispatcher sent them
    mail.outbox.clear()
    report = deliver(claim=stalled, now=due + LEASE + dt.timedelta(seconds=5))  # the stalled one wakes up
    assert (report.sent, mail.outbox) == (0, [])
    assert Reminder.objects.get(pk=reminders[120].pk).status == ReminderStatus.SENT


def test_failed_sends_are_retried_with_backoff_then_marked_failed(settings):
    settings.SMS_BACKEND = "tests.reminders.backends.FailingSmsBackend"
    FailingSmsBackend.calls = 0
    _, reminders = booked(preferred_channel=Channel.SMS, max_attempts=3)
    Reminder.objects.exclude(pk=reminders[72 * 60].pk).delete()
    reminder = reminders[72 * 60]
    now = reminder.due_at
    delays = []
    for _ in range(3):
        report = reminders_dispatch_due(now=now)
        assert report.claimed == 1
        reminder.refresh_from_db()
        if reminder.status == ReminderStatus.PENDING:
            delays.append(reminder.next_attempt_at - now)
            assert reminders_dispatch_due(now=reminder.next_attempt_at - dt.timedelta(seconds=1)).claimed == 0
            now = reminder.next_attempt_at
    assert delays == [dt.timedelta(minutes=1), dt.timedelta(minutes=2)]
    assert (reminder.status, reminder.attempts) == (ReminderStatus.FAILED, 3)
    assert "ConnectionError: provider unreachable" in reminder.last_error
    attempts = list(reminder.attempt_log.values_list("succeeded", "error"))
    assert attempts == [(False, "ConnectionError: provider unreachable")] * 3
    assert FailingSmsBackend.calls == 3
    assert reminders_dispatch_due(now=now + dt.timedelta(hours=5)).claimed == 0


def test_a_failed_send_succeeds_on_retry(settings, sms_outbox):
    settings.SMS_BACKEND = "tests.reminders.backends.FailsOnceSmsBackend"
    FailsOnceSmsBackend.failed = False
    _, reminders = booked(preferred_channel=Channel.SMS)
    Reminder.objects.exclude(pk=reminders[120].pk).delete()
    due = reminders[120].due_at
    assert reminders_dispatch_due(now=due).retried == 1
    assert reminders_dispatch_due(now=due + dt.timedelta(minutes=1)).sent == 1
    sent = Reminder.objects.get(pk=reminders[120].pk)
    assert (sent.status, sent.attempts, len(sms_outbox)) == (ReminderStatus.SENT, 2, 1)
    assert list(sent.attempt_log.values_list("succeeded", flat=True)) == [False, True]


def test_a_stale_reminder_for_a_session_already_started_is_not_sent():
    booked()
    report = reminders_dispatch_due(now=SESSION + dt.timedelta(minutes=1))
    assert (report.sent, report.skipped, mail.outbox) == (0, 4, [])


def test_one_batch_takes_a_bounded_number_of_queries(django_assert_max_num_queries):
    for _ in range(10):
        booked()
    due = SESSION - dt.timedelta(hours=2)
    assert Reminder.objects.filter(next_attempt_at__lte=due).count() == 40
    # Claim (select + update), one load, asynchronous commit on and off, then two
    # per row: the check that counts the attempt, and the attempt-and-result write.
    # (+2: inside the test's transaction the claim's atomic() is a savepoint.)
    # The 72 h and 24 h rows are overtaken by the 2 h one: one read to see it, one write to say so.
    with django_assert_max_num_queries(3 + 2 + 2 * 40 + 2):
        report = reminders_dispatch_due(now=due, batch_size=40)
    assert (report.sent, report.skipped) == (20, 20)


def test_a_reminder_whose_attempts_were_all_lost_to_crashes_is_marked_failed():
    _, reminders = booked(max_attempts=2)
    Reminder.objects.exclude(pk=reminders[120].pk).delete()
    Reminder.objects.filter(pk=reminders[120].pk).update(attempts=2)
    report = reminders_dispatch_due(now=reminders[120].due_at)
    assert (report.failed, mail.outbox) == (1, [])
    assert Reminder.objects.get(pk=reminders[120].pk).status == ReminderStatus.FAILED


def test_the_24_hour_reminder_links_to_the_pre_session_questionnaire():
    appointment, reminders = booked()
    for offset in (72 * 60, 24 * 60, 120):  # each on time
        reminders_dispatch_due(now=reminders[offset].due_at)
    [day_before] = emails_for(reminders[24 * 60])
    [two_hours] = emails_for(reminders[120])
    assert f"/me/questionnaires/phq9/?appointment={appointment.pk}" in day_before.body
    assert "questionnaire" not in two_hours.body


def test_a_reminder_that_falls_due_late_inside_quiet_hours_waits_for_their_end_in_the_patients_zone():
    _, reminders = booked()
    reminders_dispatch_due(now=NOW)  # the booking confirmation
    mail.outbox.clear()
    seventy_two = reminders[72 * 60]
    # The workers were down; they come back at 22:00 in New York, inside 21:00-08:00.
    late_night = dt.datetime(2026, 11, 25, 3, tzinfo=UTC)
    report = reminders_dispatch_due(now=late_night)
    assert (report.claimed, report.deferred, report.sent, mail.outbox) == (1, 1, 0, [])
    seventy_two.refresh_from_db()
    morning = dt.datetime(2026, 11, 25, 13, tzinfo=UTC)  # 08:00 in New York
    assert (seventy_two.status, seventy_two.attempts, seventy_two.next_attempt_at) == (
        ReminderStatus.PENDING,
        0,
        morning,
    )
    assert reminders_dispatch_due(now=morning - dt.timedelta(seconds=1)).claimed == 0
    assert reminders_dispatch_due(now=morning).sent == 1
    assert len(emails_for(seventy_two)) == 1


def test_a_late_reminder_is_not_sent_at_night_when_quiet_hours_last_until_the_session():
    early = dt.datetime(2026, 11, 27, 12, tzinfo=UTC)  # 07:00 in New York
    _, reminders = booked(starts_at=early)
    reminders_dispatch_due(now=NOW)
    mail.outbox.clear()
    two_hours = reminders[120]
    assert two_hours.due_at < dt.datetime(2026, 11, 27, 2, tzinfo=UTC)  # planned before quiet hours began
    report = reminders_dispatch_due(now=dt.datetime(2026, 11, 27, 7, tzinfo=UTC))  # 02:00 in New York
    assert (report.sent, mail.outbox) == (0, [])
    two_hours.refresh_from_db()
    assert two_hours.status == ReminderStatus.CANCELLED
    assert "quiet hours" in two_hours.last_error.lower()


def test_the_lease_length_is_a_setting(settings):
    settings.REMINDER_LEASE_SECONDS = 120
    booked()
    claim = claim_due(now=NOW, batch_size=10)
    assert claim.lease_expires_at == NOW + dt.timedelta(seconds=120) == NOW + lease_length()


def test_an_emailed_reminder_has_the_same_message_id_on_every_attempt(settings):
    _, reminders = booked()
    two_hours = reminders[120]
    claim = claim_due(now=two_hours.due_at, batch_size=100)
    deliver(claim=claim, now=two_hours.due_at)
    [first] = emails_for(two_hours)
    # A resend of the same row (its first answer lost) must look like the same message.
    Reminder.objects.filter(pk=two_hours.pk).update(status=ReminderStatus.PENDING, next_attempt_at=two_hours.due_at)
    deliver(claim=claim_due(now=two_hours.due_at, batch_size=100), now=two_hours.due_at)
    second = emails_for(two_hours)[-1]
    assert (
        first.extra_headers["Message-ID"]
        == second.extra_headers["Message-ID"]
        == f"<reminder-{two_hours.pk}@clinic.example>"
    )


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London"])
def test_reminders_are_whole_real_hours_before_a_session_booked_in_a_dst_zone(settings, zone):
    # DJANGO_TIME_ZONE set to a zone with clock changes: the booking code hands the
    # service a start in that zone. March 2026: New York changes on the 8th, London the 29th.
    from django.utils import timezone

    settings.TIME_ZONE = zone
    local = zoneinfo.ZoneInfo(zone)
    session_local = (
        dt.datetime(2026, 3, 10, 9, tzinfo=local)
        if zone == "America/New_York"
        else dt.datetime(2026, 3, 30, 11, tzinfo=local)
    )
    with timezone.override(local):
        appointment = make_appointment(starts_at=session_local, patient_zone=zone)
        appointment.starts_at = session_local  # as the booking service holds it, not re-read from the database
        reminders_schedule(appointment=appointment, now=session_local - dt.timedelta(days=10))
    by_offset = {r.offset_minutes: r for r in rows(appointment, kind=ReminderKind.REMINDER)}
    assert by_offset[72 * 60].due_at == session_local.astimezone(UTC) - dt.timedelta(hours=72)
    assert by_offset[24 * 60].due_at == session_local.astimezone(UTC) - dt.timedelta(hours=24)
