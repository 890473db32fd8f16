"""Reminder rows written by booking, moving and cancelling (the calls the booking services make in their transaction)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from clinic.models import Channel
from scheduling.models import Reminder, ReminderKind, ReminderStatus
from scheduling.reminders.services import reminders_cancel, reminders_reschedule, reminders_schedule
from tests.reminders.helpers import UTC, cancel, make_appointment, move, pending_reminders, rows

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)  # Sunday 10:00 in New York
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York


def test_booking_writes_a_confirmation_due_now_and_one_reminder_per_offset():
    appointment = make_appointment(starts_at=SESSION)
    written = reminders_schedule(appointment=appointment, now=NOW)
    assert len(written) == 4
    confirmation = rows(appointment, kind=ReminderKind.CONFIRMATION)
    assert [(r.due_at, r.status, r.session_starts_at) for r in confirmation] == [(NOW, ReminderStatus.PENDING, SESSION)]
    reminders = pending_reminders(appointment)
    assert [r.offset_minutes for r in reminders] == [72 * 60, 24 * 60, 2 * 60]
    assert [r.due_at for r in reminders] == [SESSION - dt.timedelta(hours=h) for h in (72, 24, 2)]
    assert all(r.next_attempt_at == r.due_at and r.channel == Channel.EMAIL for r in reminders)


def test_offsets_already_passed_are_not_written():
    appointment = make_appointment(starts_at=NOW + dt.timedelta(hours=30))
    reminders_schedule(appointment=appointment, now=NOW)
    assert [r.offset_minutes for r in pending_reminders(appointment)] == [24 * 60, 2 * 60]


def test_reminder_in_quiet_hours_is_written_for_their_end_in_the_patients_zone():
    # The site is in New York but the patient lives in London: 2 h before a
    # 14:00 New York session is 17:00 in London, fine; 24 h before a 03:00 UTC
    # session is 03:00 in London, quiet until 08:00 London.
    session = dt.datetime(2026, 11, 25, 3, tzinfo=UTC)  # 22:00 EST the evening before
    appointment = make_appointment(starts_at=session, patient_zone="Europe/London")
    reminders_schedule(appointment=appointment, now=NOW)
    by_offset = {r.offset_minutes: r.due_at for r in pending_reminders(appointment)}
    assert by_offset[24 * 60] == dt.datetime(2026, 11, 24, 8, tzinfo=UTC)
    # 2 h before is 01:00 London (quiet, ending after the session): sent before quiet hours began, 20:55 London.
    assert by_offset[2 * 60] == dt.datetime(2026, 11, 24, 20, 55, tzinfo=UTC)


def test_patient_without_consent_gets_no_reminders_and_no_notices():
    appointment = make_appointment(starts_at=SESSION, consent=False)
    assert reminders_schedule(appointment=appointment, now=NOW) == []
    reminders_cancel(appointment=cancel(appointment, now=NOW), now=NOW)
    assert rows(appointment) == []


def test_sms_preference_without_mobile_falls_back_to_email_and_records_why():
    appointment = make_appointment(starts_at=SESSION, preferred_channel=Channel.SMS, mobile_phone="")
    reminders_schedule(appointment=appointment, now=NOW)
    written = rows(appointment)
    assert {r.channel for r in written} == {Channel.EMAIL}
    assert all("no mobile number" in r.fallback_reason for r in written)


def test_sms_preference_with_mobile_uses_sms():
    appointment = make_appointment(starts_at=SESSION, preferred_channel=Channel.SMS)
    reminders_schedule(appointment=appointment, now=NOW)
    assert {(r.channel, r.fallback_reason) for r in rows(appointment)} == {(Channel.SMS, "")}


def test_policy_offsets_are_the_clinics_own():
    appointment = make_appointment(starts_at=SESSION, offsets_hours=[48, 1])
    reminders_schedule(appointment=appointment, now=NOW)
    assert [r.offset_minutes for r in pending_reminders(appointment)] == [48 * 60, 60]


def test_scheduling_twice_writes_nothing_more():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    assert reminders_schedule(appointment=appointment, now=NOW) == []
    assert len(rows(appointment)) == 4


def test_reminder_rows_roll_back_with_the_booking_that_caused_them():
    appointment = make_appointment(starts_at=SESSION)
    with pytest.raises(RuntimeError), transaction.atomic():
        reminders_schedule(appointment=appointment, now=NOW)
        raise RuntimeError("the booking failed after writing its reminders")
    assert rows(appointment) == []


def test_moving_cancels_the_old_rows_and_writes_new_ones_with_a_change_notice():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    later = SESSION + dt.timedelta(days=1)
    reminders_reschedule(appointment=move(appointment, to=later), now=NOW)

    old = rows(appointment, session_starts_at=SESSION)
    assert {r.status for r in old} == {ReminderStatus.CANCELLED}
    assert all(r.last_error == "The session was moved." for r in old)
    new = rows(appointment, session_starts_at=later)
    assert sorted((r.kind, r.offset_minutes) for r in new) == [
        (ReminderKind.CHANGE, None),
        (ReminderKind.REMINDER, 120),
        (ReminderKind.REMINDER, 1440),
        (ReminderKind.REMINDER, 4320),
    ]
    assert {r.status for r in new} == {ReminderStatus.PENDING}


def test_moving_back_to_a_time_already_reminded_does_not_repeat_sent_reminders():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    Reminder.objects.filter(appointment=appointment, offset_minutes=72 * 60).update(status=ReminderStatus.SENT)
    reminders_reschedule(appointment=move(appointment, to=SESSION + dt.timedelta(hours=1)), now=NOW)
    reminders_reschedule(appointment=move(appointment, to=SESSION), now=NOW)
    live = [r for r in rows(appointment, session_starts_at=SESSION) if r.status != ReminderStatus.CANCELLED]
    assert sorted((r.kind, r.offset_minutes, r.status) for r in live) == [
        (ReminderKind.CHANGE, None, ReminderStatus.PENDING),
        (ReminderKind.REMINDER, 120, ReminderStatus.PENDING),
        (ReminderKind.REMINDER, 1440, ReminderStatus.PENDING),
        (ReminderKind.REMINDER, 4320, ReminderStatus.SENT),
    ]


def test_cancelling_cancels_unsent_rows_and_writes_one_cancellation_notice():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    Reminder.objects.filter(appointment=appointment, kind=ReminderKind.CONFIRMATION).update(status=ReminderStatus.SENT)
    cancelled = cancel(appointment, now=NOW)
    reminders_cancel(appointment=cancelled, now=NOW)
    reminders_cancel(appointment=cancelled, now=NOW)  # a retried cancel does no harm

    assert {r.status for r in rows(appointment, kind=ReminderKind.REMINDER)} == {ReminderStatus.CANCELLED}
    assert rows(appointment, kind=ReminderKind.CONFIRMATION)[0].status == ReminderStatus.SENT
    notices = rows(appointment, kind=ReminderKind.CANCELLATION)
    assert [(n.status, n.due_at) for n in notices] == [(ReminderStatus.PENDING, NOW)]


def test_a_row_being_sent_is_stopped_by_a_move():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    Reminder.objects.filter(appointment=appointment, kind=ReminderKind.CONFIRMATION).update(
        status=ReminderStatus.SENDING, lease_expires_at=NOW + dt.timedelta(minutes=5)
    )
    reminders_reschedule(appointment=move(appointment, to=SESSION + dt.timedelta(days=1)), now=NOW)
    assert rows(appointment, kind=ReminderKind.CONFIRMATION)[0].status == ReminderStatus.CANCELLED
