"""A clinic's reminder policy changes after a session's rows were planned (domain.md, "Reminders":
the offsets, quiet hours and channels are the clinic's own settings, a default it can change): a
reminder at an offset the clinic has stopped since is not sent (scheduling.reminders.dispatch)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from clinic.models import ReminderPolicy
from scheduling.reminders.services import reminders_dispatch_due, reminders_schedule
from tests.reminders.helpers import UTC, make_appointment

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)  # Sunday 10:00 in New York
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York


def _reminder_emails() -> list:
    return [m for m in mail.outbox if m.subject.startswith("Reminder")]


def test_an_offset_the_clinic_removed_is_no_longer_sent_for_sessions_booked_before():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_dispatch_due(now=NOW)  # the booking confirmation
    mail.outbox.clear()
    # The clinic stops the 72-hour reminder: from now on only 24 h and 2 h before.
    policy = ReminderPolicy.objects.get(site=appointment.site)
    policy.offsets_hours = [24, 2]
    policy.save()  # as the admin or the API saves it

    reminders_dispatch_due(now=SESSION - dt.timedelta(hours=72))

    assert _reminder_emails() == [], "the 72 h reminder the clinic switched off still went out"
