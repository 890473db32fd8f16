"""The calendar file attached to the booking confirmation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from icalendar import Calendar

from scheduling.models import ReminderKind
from scheduling.reminders.services import reminders_dispatch_due, reminders_reschedule, reminders_schedule
from tests.reminders.helpers import UTC, emails_for, make_appointment, move, rows

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)


def calendar_of(message) -> Calendar:
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == ("session.ics", "text/calendar")
    return Calendar.from_ical(content)


def test_confirmation_email_carries_an_ics_with_the_sessions_utc_instants():
    appointment = make_appointment(starts_at=SESSION, patient_zone="Europe/London")
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_dispatch_due(now=NOW)
    [message] = mail.outbox
    calendar = calendar_of(message)
    assert str(calendar["version"]) == "2.0" and calendar["prodid"]
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == SESSION
    assert event.decoded("dtend") == SESSION + dt.timedelta(hours=2)
    assert event.decoded("dtstart").utcoffset() == dt.timedelta(0)
    assert str(event["uid"]) == f"appointment-{appointment.pk}@clinic.example"
    assert appointment.site.name in str(event["summary"])
    assert "drive you home" in str(event["description"])
    assert b"DTSTART:20261127T150000Z" in event.to_ical()


def test_change_notice_updates_the_same_calendar_event_with_a_higher_sequence():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_dispatch_due(now=NOW)
    later = SESSION + dt.timedelta(days=1, hours=3)
    reminders_reschedule(appointment=move(appointment, to=later), now=NOW)
    reminders_dispatch_due(now=NOW)
    first = calendar_of(emails_for(rows(appointment, kind=ReminderKind.CONFIRMATION)[0])[0]).walk("VEVENT")[0]
    second = calendar_of(emails_for(rows(appointment, kind=ReminderKind.CHANGE)[0])[0]).walk("VEVENT")[0]
    assert str(first["uid"]) == str(second["uid"])
    assert int(second["sequence"]) > int(first["sequence"])
    assert second.decoded("dtstart") == later


def test_reminders_carry_no_attachment():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    reminder = rows(appointment, kind=ReminderKind.REMINDER, offset_minutes=120)[0]
    reminders_dispatch_due(now=reminder.due_at)
    assert emails_for(reminder)[0].attachments == []
