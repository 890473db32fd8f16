"""The front desk's daily list mails patients' names and phone numbers to staff: each list sent
leaves one access-log row per member of staff it went to, naming the patients it showed, as a
page showing them to that member of staff would (domain.md: access is logged)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from clinic.models import AccessLog, Role
from scheduling.models import AppointmentStatus
from scheduling.reminders.services import front_desk_lists_send_due
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC
FOUR_PM_IN_NEW_YORK = dt.datetime(2026, 11, 22, 21, 5, tzinfo=UTC)  # 16:05, Sunday
TOMORROW_TEN_AM = dt.datetime(2026, 11, 23, 15, tzinfo=UTC)


@pytest.fixture
def listed(site):
    chair = factories.ChairFactory(site=site)

    def booked(starts_at, **fields):
        patient = factories.PatientFactory(home_site=site)
        return factories.AppointmentFactory(patient=patient, chair=chair, starts_at=starts_at, **fields)

    return {
        "unconfirmed": booked(TOMORROW_TEN_AM),
        "without_ride": booked(TOMORROW_TEN_AM + dt.timedelta(hours=2), status=AppointmentStatus.CONFIRMED),
        # Confirmed with a ride: on neither list, so not disclosed.
        "settled": booked(TOMORROW_TEN_AM + dt.timedelta(hours=4), status=AppointmentStatus.CONFIRMED, ride_home="Sam"),
    }


@pytest.fixture
def desk(site):
    return [
        factories.StaffFactory(user=factories.UserFactory(username=name), role=Role.FRONT_DESK, sites=[site])
        for name in ("desk_one", "desk_two")
    ]


def test_each_member_of_staff_the_list_went_to_has_an_access_row_naming_its_patients(site, listed, desk):
    assert front_desk_lists_send_due(now=FOUR_PM_IN_NEW_YORK) == 1
    [message] = mail.outbox
    rows = list(AccessLog.objects.order_by("user_id"))
    assert [row.user_id for row in rows] == sorted(member.user_id for member in desk)
    shown = sorted([listed["unconfirmed"].patient_id, listed["without_ride"].patient_id])
    for row in rows:
        assert row.patient_ids == shown
        assert (row.event, row.method, row.status_code) == (AccessLog.Event.REQUEST, "EMAIL", None)
        assert site.name in row.path and "2026-11-23" in row.path
    assert sorted(message.to) == sorted(member.user.email for member in desk)


def test_a_list_not_sent_again_leaves_no_second_row(site, listed, desk):
    assert front_desk_lists_send_due(now=FOUR_PM_IN_NEW_YORK) == 1
    assert front_desk_lists_send_due(now=FOUR_PM_IN_NEW_YORK + dt.timedelta(hours=1)) == 0
    assert AccessLog.objects.count() == len(desk)


def test_a_list_that_could_not_be_sent_leaves_no_row(site, listed, desk, monkeypatch):
    def broken_send_mail(**kwargs):
        raise ConnectionError("SMTP down")

    monkeypatch.setattr("scheduling.reminders.services.send_mail", broken_send_mail)
    with pytest.raises(ConnectionError):
        front_desk_lists_send_due(now=FOUR_PM_IN_NEW_YORK)
    assert not AccessLog.objects.exists()
