"""A consenting patient who could not be reached when a session was booked gets an email address
afterwards (the EHR sends it over FHIR: patients.services.patient_update). domain.md, "Reminders":
sent before each session; the dispatcher reads the address at send time, so a reachable patient
does not stay without reminders because of what was on file at booking, and a corrected time zone
times the reminders still ahead in the new zone (reminders_replan, on the patient's save)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from patients.services import patient_update
from scheduling.models import Reminder
from scheduling.reminders.services import reminders_dispatch_due, reminders_schedule
from tests import factories
from tests.reminders.helpers import UTC, make_appointment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock_at_now():
    """The details change at NOW (the receivers plan from the clock)."""
    with time_machine.travel(NOW, tick=False):
        yield


NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)  # Sunday 10:00 in New York
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York


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
