"""After an outage (the workers stopped, the provider down) a session's reminders can all be due
at once. The patient then gets the nearest one only, not the 72 h, 24 h and 2 h ones in the same
minute; planning already keeps only the nearer of two reminders that quiet hours put on one
instant. A reminder that is late but not overtaken still goes, and the questionnaire link the
overtaken one would have carried rides on the one that goes."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from clinic.models import Channel, ReminderPolicy
from scheduling.models import Reminder, ReminderKind, ReminderStatus
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


def reminders_that_went_out(appointment) -> list[Reminder]:
    return rows(appointment, kind=ReminderKind.REMINDER, status=ReminderStatus.SENT)


def test_24_hour_reminders_sent_on_time_keep_two_statements_per_row(django_assert_max_num_queries):
    """Rule (test_dispatch.py::test_one_batch_takes_a_bounded_number_of_queries):
    a batch costs claim + load + two statements per row. A 24 h reminder sent at its own time, with
    no outage at all, pays no third statement to look for a nearer reminder that cannot be due yet."""
    for _ in range(40):
        booked()
    reminders_dispatch_due(now=SESSION - dt.timedelta(hours=72), batch_size=100)  # the 72 h ones, on time
    due = SESSION - dt.timedelta(hours=24)
    assert Reminder.objects.filter(status=ReminderStatus.PENDING, next_attempt_at__lte=due).count() == 40
    with django_assert_max_num_queries(3 + 2 + 2 * 40 + 2):
        report = reminders_dispatch_due(now=due, batch_size=40)
    assert report.sent == 40


def test_a_reminder_the_clinic_no_longer_sends_does_not_overtake_one_it_still_sends():
    """Rule: a late reminder that no nearer one has overtaken still goes. After an outage the clinic
    changes its policy from [72, 24, 2] to [72, 24, 12]; the re-plan leaves the already-due 2 h row
    to the dispatcher, which stops it ("The clinic no longer sends this reminder"). That stopped row
    must not overtake the 24 h reminder: the patient must still get one reminder."""
    appointment, reminders = booked()
    assert set(reminders) == {72 * 60, 24 * 60, 120}
    policy_saved = SESSION - dt.timedelta(hours=1, minutes=58)
    with time_machine.travel(policy_saved, tick=False):
        policy = ReminderPolicy.objects.get(site=appointment.site)
        policy.offsets_hours = [72, 24, 12]
        policy.save()  # the receiver re-plans at this instant
    back = SESSION - dt.timedelta(hours=1, minutes=55)
    reminders_dispatch_due(now=back)
    reminders_dispatch_due(now=back + dt.timedelta(minutes=30))
    sent = reminders_that_went_out(appointment)
    assert len(sent) == 1, [
        (r.offset_minutes, r.status, r.last_error) for r in rows(appointment, kind=ReminderKind.REMINDER)
    ]


def test_a_provider_error_on_the_nearest_reminder_does_not_leave_the_patient_without_any(settings):
    """Rule: the farther reminders are dropped because a nearer one goes instead. When the nearer one
    does not go (the provider refused it, the clinic allows one attempt), the patient must not be
    left with no reminder at all while the provider took the next message fine: a session's nearer
    reminders are tried first, and one that failed for good overtakes nothing."""
    settings.SMS_BACKEND = "tests.reminders.backends.FailsOnceSmsBackend"
    from tests.reminders.backends import FailsOnceSmsBackend

    FailsOnceSmsBackend.failed = True  # the booking confirmation goes out
    appointment, reminders = booked(preferred_channel=Channel.SMS, max_attempts=1)
    FailsOnceSmsBackend.failed = False  # the provider refuses the next message once, then takes them all
    back = reminders[120].due_at + dt.timedelta(minutes=5)
    reminders_dispatch_due(now=back)
    reminders_dispatch_due(now=back + dt.timedelta(minutes=10))
    FailsOnceSmsBackend.failed = False
    outcome = {r.offset_minutes: (r.status, r.last_error) for r in rows(appointment, kind=ReminderKind.REMINDER)}
    assert reminders_that_went_out(appointment), outcome
