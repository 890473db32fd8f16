"""The week page: seven days, Monday first, whatever runs over midnight into it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tests.factories import AppointmentFactory, PatientFactory
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def test_a_session_running_over_sunday_midnight_into_the_week_adds_no_eighth_day(client, web):
    site = web.clinic.site
    # Sunday 1 March 2026, 23:30 to Monday 01:30 in New York (04:30 to 06:30 UTC on the 2nd).
    AppointmentFactory(
        patient=PatientFactory(home_site=site, last_name="Nightowl"),
        chair=web.clinic.chairs[2],
        nurse=web.nurse,
        starts_at=dt.datetime(2026, 3, 2, 4, 30, tzinfo=dt.UTC),
    )
    login(client, web.desk.user)
    response = client.get(reverse("web:week") + "?day=2026-03-04")
    assert response.status_code == 200
    shown = [day for day, _, _, _ in response.context["days"]]
    assert shown == [dt.date(2026, 3, 2) + dt.timedelta(days=i) for i in range(7)]
