"""A site's time zone is the zone of its patients who name none of their own, and reminders keep
quiet hours in the patient's zone. Correcting the site's zone therefore plans those patients'
reminders still ahead again, as a change of the patient's own zone does; a patient with a zone of
their own, and a save that does not change the zone, leave the reminders as they are."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine

from clinic.models import Site
from scheduling.models import ReminderKind, ReminderStatus
from scheduling.reminders.services import reminders_schedule
from tests.reminders.helpers import UTC, make_appointment, rows

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
# Friday 10:00 in New York. Its 2 h reminder, 13:00 UTC, is 08:00 there (after quiet hours end) but
# 05:00 in Los Angeles (inside 21:00-08:00).
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)
LOS_ANGELES = zoneinfo.ZoneInfo("America/Los_Angeles")


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def two_hours(appointment):
    [row] = rows(appointment, kind=ReminderKind.REMINDER, offset_minutes=120, status=ReminderStatus.PENDING)
    return row


def test_a_corrected_site_zone_replans_the_reminders_of_its_patients_without_a_zone():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    before = two_hours(appointment)
    assert before.due_at == SESSION - dt.timedelta(hours=2)

    site = Site.objects.get(pk=appointment.site_id)
    site.time_zone = "America/Los_Angeles"
    site.save()

    after = two_hours(appointment)
    assert after.pk != before.pk
    local = after.due_at.astimezone(LOS_ANGELES).time()
    assert dt.time(8) <= local < dt.time(21), f"sent at {local} in the patient's zone, inside quiet hours"
    before.refresh_from_db()
    assert before.status == ReminderStatus.CANCELLED


def test_a_patient_with_a_zone_of_their_own_keeps_their_reminders():
    appointment = make_appointment(starts_at=SESSION, patient_zone="America/New_York")
    reminders_schedule(appointment=appointment, now=NOW)
    before = two_hours(appointment)
    site = Site.objects.get(pk=appointment.site_id)
    site.time_zone = "America/Los_Angeles"
    site.save()
    assert two_hours(appointment).pk == before.pk


def test_a_site_save_that_keeps_the_zone_replans_nothing(django_assert_max_num_queries):
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    before = two_hours(appointment)
    site = Site.objects.get(pk=appointment.site_id)
    site.name = "Renamed"
    with django_assert_max_num_queries(2):  # the zone read before the save, and the save
        site.save()
    with django_assert_max_num_queries(1):  # a save of named fields without the zone reads nothing more
        site.save(update_fields=["name"])
    assert two_hours(appointment).pk == before.pk
