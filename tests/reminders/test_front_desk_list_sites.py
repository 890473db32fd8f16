"""The front desk's daily list, site by site."""

from __future__ import annotations

import contextlib
import datetime as dt
import smtplib

import pytest
from django.core import mail

from clinic.models import Role
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory, SiteFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def test_one_sites_refused_address_does_not_keep_every_other_site_without_its_list(monkeypatch):
    """A site whose list cannot be sent (its desk's address refused by the mail server) is tried
    again at the next hourly run, and every other site still gets its list meanwhile."""
    alpha = SiteFactory(name="Alpha clinic", time_zone="America/New_York")
    beta = SiteFactory(name="Beta clinic", time_zone="America/New_York")
    StaffFactory(role=Role.FRONT_DESK, sites=[alpha], user=UserFactory(username="a_desk", email="typo@@example"))
    StaffFactory(role=Role.FRONT_DESK, sites=[beta], user=UserFactory(username="b_desk", email="desk@beta.example"))
    for site in (alpha, beta):
        AppointmentFactory(
            patient=PatientFactory(home_site=site),
            chair=ChairFactory(site=site),
            starts_at=dt.datetime(2026, 11, 24, 15, tzinfo=UTC),  # 10:00 tomorrow in New York
        )
    real_send = mail.send_mail

    def send_mail(**kwargs):
        if "typo@@example" in kwargs["recipient_list"]:
            raise smtplib.SMTPRecipientsRefused({"typo@@example": (501, b"bad address")})
        return real_send(**kwargs)

    monkeypatch.setattr("scheduling.reminders.services.send_mail", send_mail)
    from scheduling.reminders.services import front_desk_lists_send_due

    for hour_utc in range(21, 24):  # 16:05 to 18:05 in New York, the hourly beat
        with contextlib.suppress(smtplib.SMTPException):  # Alpha's failure, raised once the others were sent
            front_desk_lists_send_due(now=dt.datetime(2026, 11, 23, hour_utc, 5, tzinfo=UTC))
    assert [m.to for m in mail.outbox] == [["desk@beta.example"]], "Beta's desk never got tomorrow's list"
