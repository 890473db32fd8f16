"""Reminders follow what they were planned from (scheduling.reminders.services.reminders_replan,
on the save of a patient's details or a site's policy; domain.md, "Reminders": sent before each
session, in the patient's own zone, the offsets, quiet hours and channels the clinic's own
settings): an offset the clinic adds, a channel it turns on, an address the patient gives after
booking (the EHR over FHIR: patients.services.patient_update) or a corrected time zone reach
the reminders still ahead of sessions booked before; a save that changes nothing leaves every
queued row as it was, and what was sent is never sent again."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from clinic.models import Channel, ReminderPolicy
from patients.services import patient_update
from scheduling.models import Reminder, ReminderKind, ReminderStatus
from scheduling.reminders.services import reminders_dispatch_due, reminders_schedule
from scheduling.reminders.sms import MemorySmsBackend
from tests import factories
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


def test_an_email_address_added_after_booking_brings_the_reminders_of_the_booked_session():
    appointment = make_appointment(starts_at=SESSION, email="", mobile_phone="")
    reminders_schedule(appointment=appointment, now=NOW)  # nobody to write to yet: nothing queued
    patient_update(patient=appointment.patient, actor=factories.UserFactory(), fields={"email": "ana@example.org"})

    reminders_dispatch_due(now=SESSION - dt.timedelta(hours=2))

    assert [m.to for m in mail.outbox if m.subject.startswith("Reminder")] != [], (
        "the patient consents and has an email address, yet no reminder of the booked session is sent"
    )


def test_a_corrected_time_zone_times_the_queued_reminders_in_the_patients_new_zone():
    # Booked while the patient's zone said Los Angeles: 2 h before the 07:00 (LA) session is 05:00,
    # inside quiet hours until the session, so it was planned just before they began, 20:55 LA.
    session = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # 10:00 New York, 15:00 London
    appointment = make_appointment(starts_at=session, patient_zone="America/Los_Angeles")
    reminders_schedule(appointment=appointment, now=NOW)
    # The desk corrects the zone: the patient lives in London, where 2 h before is 13:00.
    patient = appointment.patient
    patient.time_zone = "Europe/London"
    patient.save()  # as the admin and the API save it
    reminders_dispatch_due(now=NOW)  # the booking confirmation
    reminders_dispatch_due(now=session - dt.timedelta(hours=22))  # the 24 h reminder (16:00 by the old zone)
    mail.outbox.clear()

    for hour in range(0, 13):  # the dispatcher through the night and the morning, London time
        reminders_dispatch_due(now=dt.datetime(2026, 11, 27, hour, 5, tzinfo=UTC))

    ids = [int(m.extra_headers["X-Reminder-Id"]) for m in mail.outbox if m.subject.startswith("Reminder")]
    early = [(r.offset_minutes, r.sent_at) for r in Reminder.objects.filter(pk__in=ids)]
    assert early == [], "the 2 h reminder reached the patient at 08:00 London, 7 hours before the session"
