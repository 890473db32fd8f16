"""seed_demo's reminders: the dispatcher's first tick after a seed sends a real reminder, whatever
the hour the demo was started at (the seed is made at each instant named here)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from clinic.models import Site
from scheduling.models import AppointmentStatus, Reminder, ReminderKind, ReminderStatus
from scheduling.reminders.sms import MemorySmsBackend
from web.management.commands.seed_demo import DEMO_SITE_NAME

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "seeded_at",
    [
        dt.datetime(2026, 11, 18, 17, 0, tzinfo=dt.UTC),  # Wednesday 10:00 in Denver
        dt.datetime(2026, 11, 17, 4, 30, tzinfo=dt.UTC),  # Monday 21:30 in Denver: a late `dev.py run`
    ],
    ids=["morning", "evening"],
)
def test_the_dispatcher_sends_a_seeded_reminder_within_the_first_minute(db, seeded_at):
    from scheduling.reminders.services import reminders_dispatch_due

    with time_machine.travel(seeded_at, tick=False):
        call_command("seed_demo", stdout=io.StringIO())
    site = Site.objects.get(name=DEMO_SITE_NAME)
    ours = Reminder.objects.filter(appointment__site=site)
    assert ours.filter(status=ReminderStatus.PENDING, next_attempt_at__gt=seeded_at).exists()  # the queue ahead
    mail.outbox.clear()
    MemorySmsBackend.outbox.clear()

    report = reminders_dispatch_due(now=seeded_at + dt.timedelta(seconds=30))  # beat's first tick

    assert report.sent >= 1
    sent = list(ours.filter(status=ReminderStatus.SENT).select_related("appointment"))
    assert len(sent) == report.sent
    assert all(r.sent_at <= seeded_at + dt.timedelta(minutes=1) for r in sent)
    # Each is a real reminder: of an upcoming session, before it starts, within the offset it names.
    for reminder in sent:
        assert reminder.kind == ReminderKind.REMINDER
        assert reminder.appointment.status in (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)
        assert seeded_at < reminder.appointment.starts_at <= seeded_at + dt.timedelta(minutes=reminder.offset_minutes)
    assert len(mail.outbox) + len(MemorySmsBackend.outbox) == report.sent
