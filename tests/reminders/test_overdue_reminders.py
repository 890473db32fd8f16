"""After an outage (the workers stopped, the provider down) a session's reminders can all be due
at once. The patient then gets the nearest one only, not the 72 h, 24 h and 2 h ones in the same
minute; planning already keeps only the nearer of two reminders that quiet hours put on one
instant. A reminder that is late but not overtaken still goes, and the questionnaire link the
overtaken one would have carried rides on the one that goes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from scheduling.models import ReminderKind, ReminderStatus
from scheduling.reminders.dispatch import OVERTAKEN
from scheduling.reminders.services import reminders_dispatch_due, reminders_schedule
from tests.reminders.helpers import UTC, emails_for, make_appointment, rows

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)  # Sunday 10:00 in New York
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York
QUESTIONNAIRE = "/me/questionnaires/phq9/?appointment="


def booked(**kwargs):
    appointment = make_appointment(starts_at=SESSION, **kwargs)
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_dispatch_due(now=NOW)  # the booking confirmation
    mail.outbox.clear()
    return appointment, {r.offset_minutes: r for r in rows(appointment, kind=ReminderKind.REMINDER)}


def reminder_mails():
    return [m for m in mail.outbox if m.subject.startswith("Reminder")]


def test_after_an_outage_only_the_nearest_due_reminder_is_sent_and_it_asks_for_the_questionnaire():
    appointment, reminders = booked()
    back = reminders[120].due_at + dt.timedelta(minutes=5)  # the workers are back 1 h 55 min before
    report = reminders_dispatch_due(now=back)
    assert (report.claimed, report.sent, report.skipped) == (3, 1, 2)
    [message] = reminder_mails()
    assert emails_for(reminders[120]) == [message]
    assert f"{QUESTIONNAIRE}{appointment.pk}" in message.body  # the 24 h one would have asked
    for offset in (72 * 60, 24 * 60):
        reminders[offset].refresh_from_db()
        assert (reminders[offset].status, reminders[offset].last_error) == (ReminderStatus.CANCELLED, OVERTAKEN)
    assert reminders_dispatch_due(now=back + dt.timedelta(hours=1)).claimed == 0


def test_a_late_reminder_that_no_nearer_one_has_overtaken_still_goes():
    appointment, reminders = booked()
    # Back 20 hours before the session: the 72 h and 24 h ones are overdue, the 2 h one is not due.
    back = SESSION - dt.timedelta(hours=20)
    report = reminders_dispatch_due(now=back)
    assert (report.sent, report.skipped) == (1, 1)
    [day_before] = reminder_mails()
    assert emails_for(reminders[24 * 60]) == [day_before]
    assert f"{QUESTIONNAIRE}{appointment.pk}" in day_before.body
    reminders[72 * 60].refresh_from_db()
    assert (reminders[72 * 60].status, reminders[72 * 60].last_error) == (ReminderStatus.CANCELLED, OVERTAKEN)
    # The 2 h one goes at its time, without the link: the patient was asked the day before.
    mail.outbox.clear()
    assert reminders_dispatch_due(now=reminders[120].due_at).sent == 1
    [two_hours] = reminder_mails()
    assert QUESTIONNAIRE not in two_hours.body


def test_reminders_sent_on_time_are_all_sent():
    _, reminders = booked()
    for offset in (72 * 60, 24 * 60, 120):
        assert reminders_dispatch_due(now=reminders[offset].due_at).sent == 1
    assert len(reminder_mails()) == 3


def test_a_session_booked_after_the_asking_reminders_time_is_asked_in_the_nearer_one():
    # Booked 10 hours ahead: no 72 h or 24 h reminder was planned; the 2 h one asks.
    booked_at = SESSION - dt.timedelta(hours=10)
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=booked_at)
    [two_hours] = rows(appointment, kind=ReminderKind.REMINDER)
    assert two_hours.offset_minutes == 120
    reminders_dispatch_due(now=two_hours.due_at)
    [message] = reminder_mails()
    assert f"{QUESTIONNAIRE}{appointment.pk}" in message.body
