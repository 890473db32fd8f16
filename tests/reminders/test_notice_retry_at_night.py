"""A booking or cancellation notice may go out inside quiet hours when quiet hours last until the
session (notice_send_time: "the news is worth the late message"), and the dispatcher sends it then.
If that send fails (an SMTP or SMS hiccup), the retry is planned with the *reminder* rule instead
(reminder_send_time: "just before quiet hours began", an instant already past), so the notice is
marked failed after one attempt out of the policy's max_attempts, and the patient never hears
that tomorrow morning's session was cancelled."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Channel
from scheduling.models import Reminder, ReminderKind, ReminderStatus
from scheduling.reminders.services import reminders_cancel, reminders_dispatch_due, reminders_schedule
from tests.reminders.backends import FailsOnceSmsBackend
from tests.reminders.helpers import UTC, cancel, make_appointment

pytestmark = pytest.mark.django_db

# Quiet hours 21:00-08:00 New York (the policy default). Session Wednesday 07:00 EST.
SESSION = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
BOOKED = dt.datetime(2026, 11, 20, 15, tzinfo=UTC)
CANCELLED_AT = dt.datetime(2026, 11, 25, 4, tzinfo=UTC)  # Tuesday 23:00 EST, inside quiet hours


def test_a_cancellation_notice_at_night_is_retried_after_one_failed_send(settings, sms_outbox):
    settings.SMS_BACKEND = "tests.reminders.backends.FailsOnceSmsBackend"
    FailsOnceSmsBackend.failed = False
    appointment = make_appointment(starts_at=SESSION, preferred_channel=Channel.SMS, max_attempts=5)
    reminders_schedule(appointment=appointment, now=BOOKED)
    Reminder.objects.filter(appointment=appointment).delete()  # only the cancellation matters here
    reminders_cancel(appointment=cancel(appointment, now=CANCELLED_AT), now=CANCELLED_AT)
    notice = Reminder.objects.get(appointment=appointment, kind=ReminderKind.CANCELLATION)
    # The notice is due at once: quiet hours last past the 07:00 session.
    assert notice.due_at == CANCELLED_AT

    first = reminders_dispatch_due(now=CANCELLED_AT)
    assert first.claimed == 1
    notice.refresh_from_db()
    # One failed attempt of five: the notice must be tried again before the session.
    assert notice.attempts == 1
    assert notice.status == ReminderStatus.PENDING, (notice.status, notice.last_error)
    assert CANCELLED_AT < notice.next_attempt_at < SESSION

    second = reminders_dispatch_due(now=notice.next_attempt_at)
    assert second.sent == 1
    assert len(sms_outbox) == 1 and "cancelled" in sms_outbox[0].body
