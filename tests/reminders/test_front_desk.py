"""The front desk's daily list: tomorrow's sessions not confirmed, and those with no ride home recorded."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, connection, transaction

from clinic.models import Role
from scheduling.models import AppointmentStatus, FrontDeskListDelivery
from scheduling.reminders.selectors import front_desk_daily_list
from scheduling.reminders.services import front_desk_lists_send_due
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


@pytest.fixture
def desk(site):
    return factories.StaffFactory(user=factories.UserFactory(username="desk"), role=Role.FRONT_DESK, sites=[site])


def test_two_beats_send_the_daily_list_once(site, day_board, desk):
    with time_machine.travel(dt.datetime(2026, 11, 22, 21, 5, tzinfo=UTC), tick=False):
        assert send_front_desk_daily_lists() == 1
        assert send_front_desk_daily_lists() == 0  # the second beat's tick, the same hour
    with time_machine.travel(dt.datetime(2026, 11, 22, 22, 5, tzinfo=UTC), tick=False):
        assert send_front_desk_daily_lists() == 0  # the next hour
    assert len(mail.outbox) == 1
    [delivery] = FrontDeskListDelivery.objects.all()
    assert (delivery.site, delivery.day) == (site, TOMORROW)


def test_a_list_missed_at_four_goes_out_later_that_afternoon(site, day_board, desk):
    with time_machine.travel(dt.datetime(2026, 11, 22, 23, 5, tzinfo=UTC), tick=False):  # 18:05 in New York
        assert send_front_desk_daily_lists() == 1
    assert len(mail.outbox) == 1


def test_a_failed_send_releases_the_days_claim_for_the_next_run(site, day_board, desk, monkeypatch):
    def broken_send_mail(**kwargs):
        raise ConnectionError("SMTP down")

    monkeypatch.setattr("scheduling.reminders.services.send_mail", broken_send_mail)
    with time_machine.travel(dt.datetime(2026, 11, 22, 21, 5, tzinfo=UTC), tick=False), pytest.raises(ConnectionError):
        send_front_desk_daily_lists()
    assert not FrontDeskListDelivery.objects.exists()
    monkeypatch.undo()
    with time_machine.travel(dt.datetime(2026, 11, 22, 22, 5, tzinfo=UTC), tick=False):
        assert send_front_desk_daily_lists() == 1


def test_the_database_refuses_a_second_list_for_the_same_site_and_day(site):
    FrontDeskListDelivery.objects.create(site=site, day=TOMORROW, claimed_at=dt.datetime(2026, 11, 22, tzinfo=UTC))
    with pytest.raises(IntegrityError), transaction.atomic():
        FrontDeskListDelivery.objects.create(site=site, day=TOMORROW, claimed_at=dt.datetime(2026, 11, 22, tzinfo=UTC))


@pytest.mark.django_db(transaction=True)
def test_two_beats_racing_in_parallel_send_one_list(day_board, site, desk):
    # Two real connections against PostgreSQL: the unique row decides, not a read-then-write.
    barrier = threading.Barrier(2)
    results: list[int] = []

    def beat() -> None:
        try:
            barrier.wait()
            results.append(front_desk_lists_send_due(now=dt.datetime(2026, 11, 22, 21, 5, tzinfo=UTC)))
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]
    assert len(mail.outbox) == 1
