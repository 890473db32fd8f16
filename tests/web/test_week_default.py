"""The week page without `?day=` shows the week the desk is working towards: the current week while
the site still opens on one of its remaining days (today before closing time, or a later day), else
the coming one (a Sunday, a Saturday or a Friday evening at a weekday clinic). Read on the site's
clock; an explicit `?day=` shows that day's week as always."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import Closure, OpeningHours
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


# Thanksgiving week 2026 at the New York site (winter time): Thursday 26 and Friday 27 November
# closed all day, as the administrator sets them up (a site's closure; the Friday as two closures
# that cover the day between them, as the rest of the app counts a day closed).
THANKSGIVING_MONDAY = dt.date(2026, 11, 23)
AFTER_THANKSGIVING = dt.date(2026, 11, 30)


def _at_site(web, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=web.clinic.site.zone)


def _close(site, first: dt.datetime, last: dt.datetime, reason: str, **extra) -> None:
    Closure.objects.create(site=site, reason=reason, starts_at=first, ends_at=last, **extra)


@pytest.fixture
def thanksgiving(web):
    site = web.clinic.site
    _close(site, _at_site(web, dt.date(2026, 11, 26), 0), _at_site(web, dt.date(2026, 11, 27), 0), "Thanksgiving")
    _close(site, _at_site(web, dt.date(2026, 11, 27), 0), _at_site(web, dt.date(2026, 11, 27), 13), "Day after")
    _close(site, _at_site(web, dt.date(2026, 11, 27), 13), _at_site(web, dt.date(2026, 11, 28), 0), "Day after")
    return web


@pytest.mark.parametrize(
    ("day", "hour", "monday"),
    [
        (dt.date(2026, 11, 25), 10, THANKSGIVING_MONDAY),  # Wednesday, open until 18:00
        (dt.date(2026, 11, 25), 18, AFTER_THANKSGIVING),  # Wednesday at closing: Thursday and Friday are closed
        (dt.date(2026, 11, 26), 9, AFTER_THANKSGIVING),  # Thanksgiving itself, within the weekly hours
    ],
    ids=["wednesday-open", "wednesday-closed", "thanksgiving"],
)
def test_a_week_whose_remaining_open_days_are_closed_all_day_shows_the_coming_week(
    client, thanksgiving, day, hour, monday
):
    response = _week_at(client, thanksgiving, _at_site(thanksgiving, day, hour))
    assert response.context["monday"] == monday
    ahead = 'data-testid="week-ahead"' in response.content.decode()
    assert ahead == (monday == AFTER_THANKSGIVING)


def test_a_closure_that_leaves_part_of_a_remaining_day_open_keeps_the_current_week(client, web):
    site = web.clinic.site
    _close(site, _at_site(web, dt.date(2026, 11, 26), 0), _at_site(web, dt.date(2026, 11, 27), 0), "Thanksgiving")
    _close(site, _at_site(web, dt.date(2026, 11, 27), 0), _at_site(web, dt.date(2026, 11, 27), 13), "Half day")
    response = _week_at(client, web, _at_site(web, dt.date(2026, 11, 25), 18, 30))
    assert response.context["monday"] == THANKSGIVING_MONDAY


def test_a_chair_out_of_use_all_day_leaves_the_site_open_that_week(client, web):
    site = web.clinic.site
    _close(site, _at_site(web, dt.date(2026, 11, 26), 0), _at_site(web, dt.date(2026, 11, 27), 0), "Thanksgiving")
    friday = _at_site(web, dt.date(2026, 11, 27), 0)
    _close(site, friday, friday + dt.timedelta(days=1), "Repairs", chair=web.clinic.chairs[0])
    response = _week_at(client, web, _at_site(web, dt.date(2026, 11, 25), 18, 30))
    assert response.context["monday"] == THANKSGIVING_MONDAY
    _close(None, friday, friday + dt.timedelta(days=1), "Every site closed")
    client.logout()
    assert _week_at(client, web, _at_site(web, dt.date(2026, 11, 25), 18, 30)).context["monday"] == AFTER_THANKSGIVING


def test_the_remaining_days_closures_are_read_in_one_query_however_many_days_remain(client, web):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_at(instant: dt.datetime) -> int:
        with time_machine.travel(instant, tick=False):
            login(client, web.desk.user)
            with CaptureQueriesContext(connection) as caught:
                assert client.get(reverse("web:week")).status_code == 200
        return sum("clinic_closure" in query["sql"] for query in caught.captured_queries)

    # Closed Monday to Thursday: on Monday morning five days are looked at, on Friday morning one.
    Closure.objects.create(
        site=web.clinic.site,
        reason="Flooded",
        starts_at=dt.datetime.combine(THIS_MONDAY, dt.time(0), tzinfo=web.clinic.site.zone),
        ends_at=dt.datetime.combine(dt.date(2026, 3, 13), dt.time(0), tzinfo=web.clinic.site.zone),
    )
    assert queries_at(_site_local(THIS_MONDAY, 9)) == queries_at(_site_local(dt.date(2026, 3, 13), 9))
