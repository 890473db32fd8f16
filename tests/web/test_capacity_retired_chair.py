"""The capacity page's chair use is a share of the chair time the site had in the period shown."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from clinic.models import Role
from scheduling.models import AppointmentStatus
from tests.factories import AppointmentFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import make_clinic
from tests.web.conftest import login

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY = dt.date(2026, 3, 4)


def _at(hour: int) -> dt.datetime:
    return dt.datetime.combine(WEDNESDAY, dt.time(hour), tzinfo=NEW_YORK)


def test_chair_use_of_a_past_period_is_not_inflated_by_a_chair_retired_since(client):
    clinic = make_clinic(chairs=3)
    # Wednesday 4 March: every one of the three chairs busy 08:00-10:00.
    for chair in clinic.chairs:
        AppointmentFactory(
            chair=chair, starts_at=_at(8), ends_at=_at(10), status=AppointmentStatus.COMPLETED, completed_at=_at(10)
        )
    # A month later the clinic retires one chair.
    retired = clinic.chairs[2]
    retired.active = False
    retired.save(update_fields=["active"])
    manager = StaffFactory(user=UserFactory(username="manager"), role=Role.CLINIC_ADMIN, sites=[clinic.site])
    with time_machine.travel(dt.datetime(2026, 4, 6, 15, tzinfo=dt.UTC), tick=False):
        login(client, manager.user)
        response = client.get(reverse("web:capacity"), {"site": clinic.site.pk, "since": "2026-03-02", "weeks": 4})
    assert response.status_code == 200
    since = response.context["report"].periods[1]
    assert since.window.first_day <= WEDNESDAY <= since.window.last_day
    by_hour = dict(zip(response.context["report"].hours, since.chair_utilisation, strict=True))
    # 3 chairs x 60 busy minutes on one day, out of 3 chairs x 60 minutes on each open day of the period
    # (the site had three chairs then): one open day's worth. Counted against today's two chairs it is 1.5 times that.
    expected = (3 * 60) / (since.open_days * 3 * 60)
    assert by_hour[8] == pytest.approx(expected), (
        f"chair use at 08:00 shown as {by_hour[8]:.1%}, the site used {expected:.1%} of its chair time"
    )
