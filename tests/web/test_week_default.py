"""The week page without `?day=` shows the week the desk is working towards: the current week while
the site still opens on one of its remaining days (today before closing time, or a later day), else
the coming one (a Sunday, a Saturday or a Friday evening at a weekday clinic). Read on the site's
clock; an explicit `?day=` shows that day's week as always."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import OpeningHours
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

THIS_MONDAY = dt.date(2026, 3, 9)
NEXT_MONDAY = dt.date(2026, 3, 16)


def _site_local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """`day` at `hour`:`minute` in New York (summer time from 8 March 2026), as a UTC instant."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.timezone(dt.timedelta(hours=-4))).astimezone(
        dt.UTC
    )


def _week_at(client, web, instant: dt.datetime, **params):
    with time_machine.travel(instant, tick=False):
        login(client, web.desk.user)
        response = client.get(reverse("web:week"), params)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize(
    ("instant", "monday"),
    [
        (_site_local(dt.date(2026, 3, 11), 10), THIS_MONDAY),  # Wednesday
        (_site_local(dt.date(2026, 3, 13), 17, 30), THIS_MONDAY),  # Friday, before closing at 18:00
        (_site_local(dt.date(2026, 3, 13), 18, 30), NEXT_MONDAY),  # Friday, after closing
        (_site_local(dt.date(2026, 3, 14), 10), NEXT_MONDAY),  # Saturday
        (_site_local(dt.date(2026, 3, 15), 15), NEXT_MONDAY),  # Sunday
        # Sunday 23:30 at the site, already Monday in UTC.
        (_site_local(dt.date(2026, 3, 15), 23, 30), NEXT_MONDAY),
    ],
    ids=["wednesday", "friday-open", "friday-closed", "saturday", "sunday", "sunday-late"],
)
def test_a_weekday_clinic_shows_the_coming_week_once_it_opens_no_more_this_week(client, web, instant, monday):
    response = _week_at(client, web, instant)
    assert response.context["monday"] == monday
    assert response.context["days"][0][0] == monday
    ahead = 'data-testid="week-ahead"' in response.content.decode()
    assert ahead == (monday == NEXT_MONDAY)


def test_an_explicit_day_keeps_its_own_week_on_a_sunday(client, web):
    response = _week_at(client, web, _site_local(dt.date(2026, 3, 15), 15), day="2026-03-15")
    assert response.context["monday"] == THIS_MONDAY
    assert 'data-testid="week-ahead"' not in response.content.decode()


def test_a_site_open_on_sundays_shows_the_current_week_until_sunday_closing(client, web):
    OpeningHours.objects.create(site=web.clinic.site, weekday=6, opens_at=dt.time(10), closes_at=dt.time(22))
    # Sunday 20:30 at the site (Monday 00:30 in UTC): open until 22:00, so this week.
    assert _week_at(client, web, _site_local(dt.date(2026, 3, 15), 20, 30)).context["monday"] == THIS_MONDAY
    assert _week_at(client, web, _site_local(dt.date(2026, 3, 14), 10)).context["monday"] == THIS_MONDAY
    client.logout()
    assert _week_at(client, web, _site_local(dt.date(2026, 3, 15), 22, 30)).context["monday"] == NEXT_MONDAY
