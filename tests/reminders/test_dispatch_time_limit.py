"""The task's time limit in the middle of a batch is not a provider failure."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings as django_settings

from clinic.models import Channel
from scheduling.models import Reminder, ReminderAttempt, ReminderKind, ReminderStatus
from scheduling.reminders.services import reminders_dispatch_due, reminders_schedule
from scheduling.reminders.sms import MemorySmsBackend
from scheduling.tasks import dispatch_due_reminders
from tests.reminders.helpers import UTC, make_appointment, rows

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)


class TimeRunsOutSmsBackend(MemorySmsBackend):
    """The second send is where the worker's soft time limit fires."""

    calls: ClassVar[int] = 0

    def send(self, *, to: str, body: str) -> str:
        type(self).calls += 1
        if type(self).calls == 2:
            raise SoftTimeLimitExceeded()
        return super().send(to=to, body=body)


def test_a_soft_time_limit_mid_batch_is_not_counted_as_a_failed_send(settings, sms_outbox):
    settings.SMS_BACKEND = "tests.reminders.test_dispatch_time_limit.TimeRunsOutSmsBackend"
    TimeRunsOutSmsBackend.calls = 0
    # Two sessions, each with its confirmation and one reminder 2 h before (one reminder a session: none
    # overtakes another), all four due: the confirmations first, then the reminders.
    appointments = [
        make_appointment(starts_at=SESSION, preferred_channel=Channel.SMS, offsets_hours=[2]) for _ in range(2)
    ]
    for appointment in appointments:
        reminders_schedule(appointment=appointment, now=NOW)
    due = rows(appointments[0], kind=ReminderKind.REMINDER, offset_minutes=120)[0].due_at
    with time_machine.travel(due, tick=False), pytest.raises(SoftTimeLimitExceeded):
        reminders_dispatch_due(now=due)

    assert len(sms_outbox) == 1
    # No failed attempt is recorded for the interrupted send, and nothing is retried as if the provider failed.
    assert not ReminderAttempt.objects.filter(succeeded=False).exists()
    statuses = sorted(Reminder.objects.filter(appointment__in=appointments).values_list("status", flat=True))
    # One sent; the interrupted one keeps its lease (its message may have gone out, as for a crashed
    # worker); the two not yet started are pending again for the next beat.
    assert statuses == sorted(
        [ReminderStatus.SENT, ReminderStatus.SENDING, ReminderStatus.PENDING, ReminderStatus.PENDING]
    )
    assert not Reminder.objects.filter(status=ReminderStatus.PENDING, lease_expires_at__isnull=False).exists()


def test_the_dispatch_tasks_time_limit_lies_past_a_full_run():
    """A run is batches until the beat interval has passed, each stopping before its lease runs short;
    the soft limit must not cut a run that keeps to that."""
    full_run = (
        django_settings.REMINDER_DISPATCH_EVERY
        + django_settings.REMINDER_LEASE_SECONDS
        + django_settings.REMINDER_SEND_TIMEOUT_SECONDS
    )
    assert dispatch_due_reminders.soft_time_limit >= full_run
    assert dispatch_due_reminders.time_limit > dispatch_due_reminders.soft_time_limit
