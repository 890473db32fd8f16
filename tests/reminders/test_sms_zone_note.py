"""A text message shows the session's time in the patient's zone. When that is not the clinic's
zone (a patient who lives or travels elsewhere), the message names it ("10:00 GMT"), so the time
is not read as the clinic's; when it is the clinic's, nothing is added and the message stays short.
The clinics whose text-message wording is still the default get the new default; a clinic's own
wording is left as the clinic wrote it."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps

from clinic.models import Channel, ReminderPolicy
from scheduling.reminders.services import reminders_dispatch_due, reminders_schedule
from tests.reminders.helpers import UTC, make_appointment

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York, 15:00 in London
migration = importlib.import_module("clinic.migrations.0010_sms_template_names_the_zone")


def texts(patient_zone: str, sms_outbox) -> list[str]:
    appointment = make_appointment(starts_at=SESSION, preferred_channel=Channel.SMS, patient_zone=patient_zone)
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_dispatch_due(now=NOW)  # the confirmation
    reminders_dispatch_due(now=SESSION - dt.timedelta(hours=2))  # the 72 h, 24 h and 2 h: the nearest goes
    return [message.body for message in sms_outbox]


def test_a_patient_in_another_zone_is_told_which_zone_the_time_is_in(sms_outbox):
    confirmation, reminder = texts("Europe/London", sms_outbox)
    assert "booked Fri 27 Nov 15:00 GMT." in confirmation
    assert "Fri 27 Nov 15:00 GMT. Arrange a ride home." in reminder


def test_a_patient_in_the_clinics_zone_gets_no_zone_note(sms_outbox):
    confirmation, reminder = texts("", sms_outbox)
    assert "booked Fri 27 Nov 10:00. Arrange" in confirmation
    assert "Fri 27 Nov 10:00. Arrange a ride home." in reminder


def test_the_migration_gives_the_default_wording_the_zone_and_leaves_a_clinics_own_alone():
    default, own = make_appointment(starts_at=SESSION), make_appointment(starts_at=SESSION)
    ReminderPolicy.objects.filter(site=default.site).update(sms_template=migration.OLD_DEFAULT)
    ReminderPolicy.objects.filter(site=own.site).update(sms_template="See you {{ local_start|date:'D H:i' }}")
    migration.name_the_zone(apps, None)
    changed = ReminderPolicy.objects.get(site=default.site)
    assert changed.sms_template == migration.NEW_DEFAULT
    assert changed.history.first().history_change_reason == migration.REASON
    assert ReminderPolicy.objects.get(site=own.site).sms_template == "See you {{ local_start|date:'D H:i' }}"
    migration.back_to_the_old_default(apps, None)
    assert ReminderPolicy.objects.get(site=default.site).sms_template == migration.OLD_DEFAULT
