"""The front desk's daily list: tomorrow's sessions not confirmed, and those with no ride home recorded."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from clinic.models import Role
from scheduling.models import AppointmentStatus
from scheduling.reminders.selectors import front_desk_daily_list
from scheduling.tasks import send_front_desk_daily_lists
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC
TOMORROW = dt.date(2026, 11, 23)  # Monday; the site is in New York (UTC-5)


def session(site, chair, hour_utc: int, *, day: dt.date = TOMORROW, **fields):
    starts_at = dt.datetime.combine(day, dt.time(hour_utc), tzinfo=UTC)
    patient = factories.PatientFactory(home_site=site)
    return factories.AppointmentFactory(patient=patient, chair=chair, starts_at=starts_at, **fields)


@pytest.fixture
def day_board(site):
    chair = factories.ChairFactory(site=site)
    return {
        "unconfirmed_no_ride": session(site, chair, 14),
        "confirmed_with_ride": session(site, chair, 16, status=AppointmentStatus.CONFIRMED, ride_home="Sam (partner)"),
        "confirmed_no_ride": session(site, chair, 18, status=AppointmentStatus.CONFIRMED),
        "unconfirmed_with_ride": session(site, chair, 20, ride_home="Taxi booked"),
        # 23:30 New York on the 23rd is 04:30 UTC on the 24th: still tomorrow locally.
        "late_evening": session(site, chair, 4, day=TOMORROW + dt.timedelta(days=1), ride_home="Mum"),
        "cancelled": session(
            site, chair, 22, status=AppointmentStatus.CANCELLED, cancelled_at=dt.datetime(2026, 11, 20, tzinfo=UTC)
        ),
        # 00:30 UTC on the 23rd is 19:30 on the 22nd in New York: today, not tomorrow.
        "today_locally": session(site, chair, 0),
    }


def test_daily_list_shows_tomorrows_unconfirmed_sessions_and_missing_rides(site, day_board):
    daily = front_desk_daily_list(site=site, day=TOMORROW)
    names = {v.pk: k for k, v in day_board.items()}
    assert [names[a.pk] for a in daily.not_confirmed] == [
        "unconfirmed_no_ride",
        "unconfirmed_with_ride",
        "late_evening",
    ]
    assert [names[a.pk] for a in daily.without_ride] == ["unconfirmed_no_ride", "confirmed_no_ride"]


def test_daily_list_takes_one_query(site, day_board, django_assert_num_queries):
    with django_assert_num_queries(1):
        daily = front_desk_daily_list(site=site, day=TOMORROW)
        [(a.patient.full_name, a.chair.name) for a in daily.sessions]


def test_daily_list_is_emailed_to_the_front_desk_at_four_in_the_afternoon(site, day_board):
    factories.StaffFactory(user=factories.UserFactory(username="desk"), role=Role.FRONT_DESK, sites=[site])
    with time_machine.travel(dt.datetime(2026, 11, 22, 20, 5, tzinfo=UTC), tick=False):  # 15:05 in New York
        assert send_front_desk_daily_lists() == 0
    with time_machine.travel(dt.datetime(2026, 11, 22, 21, 5, tzinfo=UTC), tick=False):  # 16:05 in New York
        assert send_front_desk_daily_lists() == 1
    [message] = mail.outbox
    assert message.to == ["desk@example.org"]
    assert "3 not confirmed, 2 without a ride" in message.subject
    assert "09:00" in message.body  # 14:00 UTC shown in the site's zone
    assert day_board["unconfirmed_no_ride"].patient.full_name in message.body
