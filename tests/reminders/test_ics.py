"""The calendar file attached to the booking confirmation."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest
from django.core import mail
from icalendar import Calendar

from clinic.models import Channel
from scheduling.models import ReminderKind
from scheduling.reminders.ics import appointment_ics
from scheduling.reminders.services import (
    reminders_cancel,
    reminders_dispatch_due,
    reminders_reschedule,
    reminders_schedule,
)
from tests.reminders.helpers import UTC, cancel, emails_for, fresh, make_appointment, move, rows

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)


def calendar_of(message) -> Calendar:
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    [part] = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_filename() == "session.ics"
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    assert part.get_param("method") == str(calendar["method"])
    return calendar


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


def attached_ics_as_sent(message) -> bytes:
    """The calendar part as a mail client receives it: from the serialised message, decoded."""
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    [part] = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    return part.get_payload(decode=True)


def test_the_attached_ics_keeps_every_line_within_75_octets_with_crlf_endings():
    appointment = make_appointment(starts_at=SESSION, patient_zone="Europe/London")
    site = appointment.site
    site.name = "Clínica de Infusão São João da Boa Vista, Unidade Avançada"
    site.address = "Rua Doutor Érico Veríssimo 1234, Conjunto Residencial Jardim Botânico, São João da Boa Vista"
    site.arrival_notes = (
        "Please arrive fifteen minutes early and check in at the reception desk on the ground floor. " * 3
    )
    site.save(update_fields=["name", "address", "arrival_notes"])
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_dispatch_due(now=NOW)
    [message] = mail.outbox
    ics = attached_ics_as_sent(message)
    lines = ics.split(b"\r\n")
    assert lines[-1] == b"" and b"\n" not in b"".join(lines)  # CRLF everywhere, RFC 5545 §3.1
    assert max(len(line) for line in lines) <= 75
    [event] = Calendar.from_ical(ics).walk("VEVENT")
    assert str(event["location"]) == site.address


def test_every_move_and_the_cancel_send_the_same_event_with_a_growing_sequence_and_the_cancel_says_cancelled():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_dispatch_due(now=NOW)
    for days in (1, 2):
        reminders_reschedule(appointment=move(appointment, to=SESSION + dt.timedelta(days=days)), now=NOW)
        reminders_dispatch_due(now=NOW)
    reminders_cancel(appointment=cancel(appointment, now=NOW), now=NOW)
    reminders_dispatch_due(now=NOW)
    notices = rows(appointment, kind__in=[ReminderKind.CONFIRMATION, ReminderKind.CHANGE, ReminderKind.CANCELLATION])
    calendars = [calendar_of(emails_for(notice)[0]) for notice in notices]
    events = [calendar.walk("VEVENT")[0] for calendar in calendars]
    assert len({str(event["uid"]) for event in events}) == 1
    assert [int(event["sequence"]) for event in events] == [0, 1, 2, 3]
    assert [str(calendar["method"]) for calendar in calendars] == ["PUBLISH", "PUBLISH", "PUBLISH", "CANCEL"]
    assert str(events[-1]["status"]) == "CANCELLED"


def test_the_sequence_grows_on_moves_even_for_a_patient_who_gets_no_messages():
    appointment = make_appointment(starts_at=SESSION, consent=False)
    reminders_schedule(appointment=appointment, now=NOW)
    assert rows(appointment) == []
    reminders_reschedule(appointment=move(appointment, to=SESSION + dt.timedelta(days=1)), now=NOW)
    reminders_reschedule(appointment=move(appointment, to=SESSION + dt.timedelta(days=2)), now=NOW)
    appointment.refresh_from_db()
    assert appointment.calendar_sequence == 2
    [event] = Calendar.from_ical(appointment_ics(appointment=fresh(appointment), now=NOW)).walk("VEVENT")
    assert int(event["sequence"]) == 2


def test_titles_and_texts_name_the_clinic_not_the_drug(sms_outbox):
    appointment = make_appointment(starts_at=SESSION)
    assert "ketamine" in appointment.plan.protocol.name.lower()
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_dispatch_due(now=NOW)
    reminders_reschedule(appointment=move(appointment, to=SESSION + dt.timedelta(days=1)), now=NOW)
    for reminder in rows(appointment, kind=ReminderKind.REMINDER):
        reminders_dispatch_due(now=reminder.due_at)
    texts = []
    for message in mail.outbox:
        texts.append(message.subject)
        if message.attachments:
            [event] = calendar_of(message).walk("VEVENT")
            assert str(event["summary"]) == f"Appointment at {appointment.site.name}"
    assert len(texts) == 5  # confirmation, change, three reminders
    assert all("ketamine" not in text.lower() and "infusion" not in text.lower() for text in texts), texts
    assert all(appointment.site.name in text for text in texts)

    sms_patient = make_appointment(starts_at=SESSION, preferred_channel=Channel.SMS)
    reminders_schedule(appointment=sms_patient, now=NOW)
    for reminder in rows(sms_patient, kind=ReminderKind.REMINDER):
        reminders_dispatch_due(now=reminder.due_at)
    assert len(sms_outbox) == 4
    assert all(sms_patient.site.name in message.body for message in sms_outbox)
    reminder_texts = [message.body for message in sms_outbox if message.body.startswith("Appointment at")]
    assert len(reminder_texts) == 3
    assert all("ketamine" not in message.body.lower() for message in sms_outbox)
