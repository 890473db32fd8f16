"""A day proposed or listed that is a public holiday the site is not closed for is said on every page
that offers times (course proposal, single booking, move, the portal's own move), as the board says it
of sessions booked on one; placement itself is unchanged. The site is in Texas, where Monday 2 March
2026 is Texas Independence Day (the `holidays` calendar the app reads); the clinic fixture books its
courses from that day."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import Closure
from tests.web.conftest import login, make_patient

pytestmark = pytest.mark.django_db

HOLIDAY = dt.date(2026, 3, 2)
NOTICE = "Mon 2 Mar is Texas Independence Day, a public holiday, and the site is not closed"
ONE_WEEK = {"first_day": "2026-03-02", "last_day": "2026-03-08"}


@pytest.fixture
def texas(web):
    site = web.clinic.site
    site.country, site.subdivision = "US", "TX"
    site.save(update_fields=["country", "subdivision"])
    return web


def _close_all_day(site, day: dt.date) -> None:
    Closure.objects.create(
        site=site,
        reason="Texas Independence Day",
        starts_at=dt.datetime.combine(day, dt.time(0), tzinfo=site.zone),
        ends_at=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=site.zone),
    )


def _new_plan(web):
    return web.clinic.plan(patient=make_patient(web.clinic, "patient_c", "Cleo", "Cole"))


def test_a_course_proposed_over_a_public_holiday_says_so_for_that_session(client, texas):
    plan = _new_plan(texas)
    login(client, texas.desk.user)
    response = client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": HOLIDAY.isoformat()})
    assert response.status_code == 200
    rows = response.context["proposal"]
    zone = texas.clinic.site.zone
    on_the_day = [row for row in rows if row["starts_at"].astimezone(zone).date() == HOLIDAY]
    assert on_the_day, "the proposal is expected to start on the holiday (placement is unchanged)"
    assert all(row["holiday"].name == "Texas Independence Day" for row in on_the_day)
    assert all(row["holiday"] is None for row in rows if row not in on_the_day)
    text = response.content.decode()
    assert NOTICE in text
    assert text.count('data-testid="proposal-holiday"') == len(on_the_day)
    assert 'data-testid="holiday-warning"' in text


def test_a_course_page_says_nothing_of_a_holiday_the_site_is_closed_for(client, texas):
    _close_all_day(texas.clinic.site, HOLIDAY)
    plan = _new_plan(texas)
    login(client, texas.desk.user)
    response = client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": HOLIDAY.isoformat()})
    assert response.status_code == 200
    assert all(row["holiday"] is None for row in response.context["proposal"])
    assert "public holiday" not in response.content.decode()


def test_a_clinic_without_that_holiday_is_not_warned(client, web):
    # The default site is in the US with no state: 2 March is no federal holiday.
    plan = _new_plan(web)
    login(client, web.desk.user)
    response = client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": HOLIDAY.isoformat()})
    assert response.status_code == 200
    assert "public holiday" not in response.content.decode()


def test_the_single_booking_page_warns_on_the_holidays_day_only(client, texas):
    plan = _new_plan(texas)
    login(client, texas.desk.user)
    response = client.get(reverse("web:book-session", args=[plan.patient.pk]), {**ONE_WEEK, "kind": "make-up"})
    assert response.status_code == 200
    days = {day["day"]: day for day in response.context["days"]}
    assert days[HOLIDAY]["choices"] and days[HOLIDAY]["holiday"].name == "Texas Independence Day"
    assert all(day["holiday"] is None for when, day in days.items() if when != HOLIDAY)
    text = response.content.decode()
    assert text.count(NOTICE) == 1
    # The front desk cannot close the site; a clinic administrator is shown the way to.
    assert reverse("web:site-holidays") not in text


def test_the_move_page_warns_on_the_holiday_and_links_administrators_who_may_close_it(client, texas):
    session = texas.sessions_a[1]
    login(client, texas.desk.user)
    response = client.get(reverse("web:move-session", args=[session.pk]), ONE_WEEK)
    assert response.status_code == 200
    assert NOTICE in response.content.decode()
    _close_all_day(texas.clinic.site, HOLIDAY)
    closed = client.get(reverse("web:move-session", args=[session.pk]), ONE_WEEK)
    assert "public holiday" not in closed.content.decode()


def test_the_portal_move_warns_the_patient_of_a_holiday_among_the_times(client, web):
    # Monday 16 March 2026 is a public holiday in Mexico (Benito Juárez's birthday); the last session
    # of the course (Friday 13 March) may move to it.
    site = web.clinic.site
    site.country, site.subdivision = "MX", ""
    site.save(update_fields=["country", "subdivision"])
    holiday = dt.date(2026, 3, 16)
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)
    response = client.get(reverse("web:portal-reschedule", args=[last.pk]))
    assert response.status_code == 200
    days = {day["day"]: day for day in response.context["days"]}
    assert days[holiday]["times"]
    assert [found.day for found in days[holiday]["holidays"]] == [holiday]
    assert all(not day["holidays"] for when, day in days.items() if when != holiday)
    text = response.content.decode()
    assert text.count('data-testid="holiday-warning"') == 1
    assert "Mon 16 Mar is Benito Ju" in text and "a public holiday" in text
    _close_all_day(site, holiday)
    closed = client.get(reverse("web:portal-reschedule", args=[last.pk]))
    assert 'data-testid="holiday-warning"' not in closed.content.decode()


def _refused_course_page(client, web):
    """The course page of a plan preferring Mondays and Wednesdays, with a review date its course
    cannot end by on those days (Mon 16 Mar): refused, with the nearest courses that fit, the first
    from Mon 2 Mar on any open day (from Tue 3 Mar when the site is closed on the 2nd)."""
    plan = _new_plan(web)
    plan.review_date = dt.date(2026, 3, 16)
    plan.preferred_weekdays = [0, 2]
    plan.save(update_fields=["review_date", "preferred_weekdays"])
    login(client, web.desk.user)
    response = client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": HOLIDAY.isoformat()})
    assert response.status_code == 409
    return response


def test_the_nearest_courses_that_fit_say_which_run_over_a_public_holiday(client, texas):
    response = _refused_course_page(client, texas)
    zone = texas.clinic.site.zone
    alternatives = response.context["alternatives"]
    assert alternatives
    over = [alt for alt in alternatives if HOLIDAY in {local.astimezone(zone).date() for local in alt["starts"]}]
    assert over, "an alternative is expected to offer a session on the holiday (placement is unchanged)"
    for alt in alternatives:
        expected = ["Texas Independence Day"] if alt in over else []
        assert [holiday.name for holiday in alt["holidays"]] == expected
    text = response.content.decode()
    assert text.count('data-testid="alternative-holiday"') == len(over)
    # One notice for the day, however many alternatives run over it; the desk cannot close the site.
    assert text.count(NOTICE) == 1
    assert reverse("web:site-holidays") not in text


def test_the_nearest_courses_say_nothing_of_a_holiday_the_site_is_closed_for(client, texas):
    _close_all_day(texas.clinic.site, HOLIDAY)
    response = _refused_course_page(client, texas)
    assert response.context["alternatives"]
    assert all(not alt["holidays"] for alt in response.context["alternatives"])
    assert "public holiday" not in response.content.decode()
