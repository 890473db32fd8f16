"""The front desk's daily list of tomorrow's unconfirmed sessions and missing rides (domain.md: the
front desk runs the day board, who is late, who needs a ride; services.front_desk_lists_send_due)
goes to the site's front desk, including front-desk staff who work across the whole clinic
(StaffMember.all_sites: "sees and acts at every site, not only those listed")."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from clinic.models import Role
from scheduling.reminders.services import front_desk_lists_send_due
from tests import factories

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def test_a_clinic_wide_front_desk_gets_the_sites_daily_list():
    site = factories.SiteFactory(time_zone="America/New_York")
    factories.StaffFactory(
        role=Role.FRONT_DESK,
        sites=[],
        all_sites=True,
        user=factories.UserFactory(username="central_desk", email="desk@clinic.example"),
    )
    factories.AppointmentFactory(
        patient=factories.PatientFactory(home_site=site),
        chair=factories.ChairFactory(site=site),
        starts_at=dt.datetime(2026, 11, 23, 15, tzinfo=UTC),  # 10:00 tomorrow in New York, not confirmed
    )

    front_desk_lists_send_due(now=dt.datetime(2026, 11, 22, 21, 5, tzinfo=UTC))  # 16:05 in New York

    assert [m.to for m in mail.outbox] == [["desk@clinic.example"]], (
        "the clinic's front desk works at this site but never gets its list of tomorrow's unconfirmed sessions"
    )
