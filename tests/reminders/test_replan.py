"""Reminders follow what they were planned from (scheduling.reminders.services.reminders_replan):
a change to the site's policy or the patient's details plans again the reminders still ahead
of sessions booked before; a save that changes nothing leaves every queued row as it was, and
what was sent is never sent again."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from clinic.models import ReminderPolicy
from scheduling.models import Reminder, ReminderKind, ReminderStatus
from scheduling.reminders.services import reminders_dispatch_due, reminders_schedule
from tests.reminders.helpers import UTC, make_appointment

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)  # Sunday 10:00 in New York
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def queued(appointment) -> list[tuple[int, dt.datetime, int]]:
    return sorted(
        Reminder.objects.filter(
            appointment=appointment, kind=ReminderKind.REMINDER, status=ReminderStatus.PENDING
        ).values_list("offset_minutes", "due_at", "pk")
    )


def test_an_offset_the_clinic_adds_reaches_the_sessions_booked_before():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    policy = ReminderPolicy.objects.get(site=appointment.site)
    policy.offsets_hours = [72, 48, 24, 2]
    policy.save()
    assert [offset for offset, _due, _pk in queued(appointment)] == [120, 1440, 2880, 4320]


def test_a_save_that_changes_nothing_keeps_every_queued_reminder():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    before = queued(appointment)
    appointment.patient.save()  # a full save, as the admin's and the API's
    ReminderPolicy.objects.get(site=appointment.site).save()
    assert queued(appointment) == before
    assert not Reminder.objects.filter(appointment=appointment, status=ReminderStatus.CANCELLED).exists()


def test_longer_quiet_hours_move_a_queued_reminder_and_keep_the_others():
    # 10:00 sessions: the 2 h reminder is due at 08:00 New York, the others at 10:00.
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    (two_hours, due, pk), *others = queued(appointment)
    assert two_hours == 120 and due == SESSION - dt.timedelta(hours=2)
    policy = ReminderPolicy.objects.get(site=appointment.site)
    policy.quiet_hours_end = dt.time(9, 0)  # 08:00 is now quiet
    policy.save()
    after = queued(appointment)
    assert after[1:] == others, "the reminders whose time did not change were replaced"
    offset, new_due, new_pk = after[0]
    assert offset == 120 and new_pk != pk
    assert new_due == dt.datetime(2026, 11, 27, 14, tzinfo=UTC)  # 09:00 New York, when quiet hours end


def test_a_reminder_sent_already_is_not_planned_again():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    sent_at = SESSION - dt.timedelta(hours=72)
    with time_machine.travel(sent_at, tick=False):
        reminders_dispatch_due(now=sent_at)
        assert Reminder.objects.get(appointment=appointment, offset_minutes=4320).status == ReminderStatus.SENT
        policy = ReminderPolicy.objects.get(site=appointment.site)
        policy.offsets_hours = [72, 24]
        policy.save()
    offsets = Reminder.objects.filter(appointment=appointment, kind=ReminderKind.REMINDER).exclude(
        status=ReminderStatus.CANCELLED
    )
    assert sorted(offsets.values_list("offset_minutes", flat=True)) == [1440, 4320]
