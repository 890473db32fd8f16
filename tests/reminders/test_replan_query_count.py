"""A site's reminder-policy save re-plans the reminders of every upcoming session at the site
(scheduling/receivers.py replan_reminders_of_a_site -> reminders_replan), inside the admin's
request. A clinic has thousands of sessions booked ahead; the re-plan reads them in a fixed
number of queries, not one per session (the patient's zone falls back to their home site's,
which is read with them)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import ReminderPolicy
from tests import factories

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=dt.UTC)
FIRST = dt.datetime(2026, 11, 30, 15, tzinfo=dt.UTC)


def _site_with_sessions(count: int):
    site = factories.SiteFactory(time_zone="America/New_York")
    chair = factories.ChairFactory(site=site)
    for index in range(count):
        patient = factories.PatientFactory(home_site=site, time_zone="")
        factories.AppointmentFactory(patient=patient, chair=chair, starts_at=FIRST + dt.timedelta(days=index))
    return site


def _queries_of_a_policy_save(site) -> int:
    policy = ReminderPolicy.objects.get(site=site)
    policy.offsets_hours = [48, 2]
    with CaptureQueriesContext(connection) as queries:
        policy.save()
    return len(queries)


def test_a_policy_save_replans_in_queries_that_do_not_grow_with_the_sessions():
    with time_machine.travel(NOW, tick=False):
        few = _queries_of_a_policy_save(_site_with_sessions(2))
        many = _queries_of_a_policy_save(_site_with_sessions(30))
    assert many == few, f"{few} queries for 2 sessions, {many} for 30"
