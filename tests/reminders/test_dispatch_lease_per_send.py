"""The dispatcher sends each row once, even when a slow provider makes a batch outlast its lease."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import pytest
import time_machine
from django.db.models import Count, Q

from clinic.models import Channel
from scheduling.models import Reminder, ReminderKind
from scheduling.reminders.services import reminders_dispatch_due, reminders_schedule
from scheduling.reminders.sms import MemorySmsBackend
from tests.reminders.helpers import UTC, make_appointment, rows

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)
SEND_SECONDS = 25  # a slow provider, still inside REMINDER_SEND_TIMEOUT_SECONDS (30)


class SlowSmsBackend(MemorySmsBackend):
    """Each send takes SEND_SECONDS of wall-clock time. On the third send, the next
    beat's dispatcher runs while that send is still in flight."""

    traveller: ClassVar[Any] = None
    calls: ClassVar[int] = 0
    second_dispatcher_at: ClassVar[dt.datetime | None] = None

    def send(self, *, to: str, body: str) -> str:
        cls = type(self)
        cls.calls += 1
        if cls.calls == 3 and cls.second_dispatcher_at is not None:
            at, cls.second_dispatcher_at = cls.second_dispatcher_at, None
            cls.traveller.move_to(at)
            reminders_dispatch_due(now=at)  # another worker, on the next tick
        else:
            cls.traveller.shift(SEND_SECONDS)
        return super().send(to=to, body=body)


def test_a_batch_slower_than_its_lease_does_not_send_a_message_twice(settings, sms_outbox):
    # 60 s is an allowed lease with the default 30 s send timeout (the settings check: timeout <= lease / 2).
    settings.REMINDER_LEASE_SECONDS = 60
    settings.SMS_BACKEND = "tests.reminders.test_dispatch_lease_per_send.SlowSmsBackend"
    # Two sessions, each with its confirmation and one reminder 2 h before (one reminder a session: none
    # overtakes another): four rows, all due.
    appointments = [
        make_appointment(starts_at=SESSION, preferred_channel=Channel.SMS, offsets_hours=[2]) for _ in range(2)
    ]
    for appointment in appointments:
        reminders_schedule(appointment=appointment, now=NOW)
    due = rows(appointments[0], kind=ReminderKind.REMINDER, offset_minutes=120)[0].due_at
    assert Reminder.objects.filter(appointment__in=appointments, next_attempt_at__lte=due).count() == 4
    with time_machine.travel(due, tick=False) as traveller:
        SlowSmsBackend.traveller, SlowSmsBackend.calls = traveller, 0
        # Two sends of 25 s each: the first dispatcher starts its third send with 10 s of its
        # 60 s lease left; the next dispatcher, 61 s after the claim, finds that row's lease expired.
        SlowSmsBackend.second_dispatcher_at = due + dt.timedelta(seconds=61)
        reminders_dispatch_due(now=due)
        # A dispatcher that stops before its lease runs short leaves the rest to the next beat.
        if SlowSmsBackend.second_dispatcher_at is not None:
            SlowSmsBackend.second_dispatcher_at = None
            traveller.move_to(due + dt.timedelta(seconds=61))
            reminders_dispatch_due(now=due + dt.timedelta(seconds=61))
    sent_twice = (
        Reminder.objects.filter(appointment__in=appointments)
        .annotate(sent=Count("attempt_log", filter=Q(attempt_log__succeeded=True)))
        .filter(sent__gt=1)
    )
    assert len(sms_outbox) == 4 and not sent_twice.exists(), (
        f"{len(sms_outbox)} text messages for 4 rows; sent twice: {[(r.kind, r.offset_minutes) for r in sent_twice]}"
    )
