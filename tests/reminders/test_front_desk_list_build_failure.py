"""The front desk's daily list (scheduling/reminders/services.py: front_desk_lists_send_due): a site
whose list could not go out is tried again at the next hourly run."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from django.core import mail
from django.db import OperationalError

from clinic.models import Role
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory, SiteFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def test_a_list_that_failed_while_being_built_is_never_retried_that_day(monkeypatch):
    """A list that fails while being built (the database connection drops while reading tomorrow's
    sessions) gives the day back: the next hourly run sends it."""
    site = SiteFactory(name="Alpha clinic", time_zone="America/New_York")
    StaffFactory(role=Role.FRONT_DESK, sites=[site], user=UserFactory(username="a_desk", email="desk@alpha.example"))
    AppointmentFactory(
        patient=PatientFactory(home_site=site),
        chair=ChairFactory(site=site),
        starts_at=dt.datetime(2026, 11, 24, 15, tzinfo=UTC),  # 10:00 tomorrow in New York
    )
    from scheduling.reminders import services

    real_list = services.front_desk_daily_list
    calls = {"n": 0}

    def flaky_list(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_list(**kwargs)

    monkeypatch.setattr(services, "front_desk_daily_list", flaky_list)
    for hour_utc in range(21, 24):  # 16:05 to 18:05 in New York, the hourly beat
        with contextlib.suppress(OperationalError):
            services.front_desk_lists_send_due(now=dt.datetime(2026, 11, 23, hour_utc, 5, tzinfo=UTC))
    assert [m.to for m in mail.outbox] == [["desk@alpha.example"]], "Alpha's desk never got tomorrow's list"
