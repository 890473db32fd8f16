"""A clinic's reminder policy changes after a session's rows were planned (domain.md, "Reminders":
the offsets, quiet hours and channels are the clinic's own settings, a default it can change): the
reminders still ahead follow it (reminders_replan, on the policy's save)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from clinic.models import Channel, ReminderPolicy
from scheduling.reminders.services import reminders_dispatch_due, reminders_schedule
from scheduling.reminders.sms import MemorySmsBackend
from tests.reminders.helpers import UTC, make_appointment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock_at_now():
    """The details change at NOW (the receivers plan from the clock)."""
    with time_machine.travel(NOW, tick=False):
        yield


NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)  # Sunday 10:00 in New York
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York


def _reminder_emails() -> list:
    return [m for m in mail.outbox if m.subject.startswith("Reminder")]


def test_a_patient_reachable_only_by_text_is_reminded_once_the_clinic_turns_text_messages_on():
    # Booked while the clinic sent no text messages: the patient (text only, no email) had no channel.
    appointment = make_appointment(starts_at=SESSION, preferred_channel=Channel.SMS, email="", sms_enabled=False)
    reminders_schedule(appointment=appointment, now=NOW)
    policy = ReminderPolicy.objects.get(site=appointment.site)
    policy.sms_enabled = True
    policy.save()  # as the admin or the API saves it

    reminders_dispatch_due(now=SESSION - dt.timedelta(hours=2))

    assert [m.to for m in MemorySmsBackend.outbox] != [], (
        "the clinic sends text messages now and the patient consented, but no reminder of the booked session goes out"
    )
