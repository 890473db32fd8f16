"""Issue 20 #16: all-day closures read "Closed all day"; each site is offered its country's and
state's public holidays for the coming year as closures a clinic administrator confirms in one
step; the board warns when sessions are booked on a public holiday the site is not closed for."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.urls import reverse

from clinic.models import Closure
from tests.web.conftest import login


def _all_day(site, day: dt.date, reason: str) -> Closure:
    zone = site.zone
    return Closure.objects.create(
        site=site,
        reason=reason,
        starts_at=dt.datetime.combine(day, dt.time(0), tzinfo=zone),
        ends_at=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone),
    )


def test_an_all_day_closure_reads_closed_all_day_on_the_board_and_the_week(client, web):
    day = dt.date(2026, 3, 4)
    _all_day(web.clinic.site, day, "Staff training")
    login(client, web.desk.user)
    board = client.get(reverse("web:board"), {"day": day.isoformat()}).content.decode()
    assert "Closed all day: Staff training" in board
    assert "00:00" not in board.split("Staff training")[0].rsplit("Closed", 1)[-1]
    assert "00:00–00:00" not in board and "Wed 4 Mar 00:00" not in board
    week = client.get(reverse("web:week"), {"day": day.isoformat()}).content.decode()
    assert "Closed all day Wed 4 Mar: Staff training" in week
    assert "00:00" not in week


def test_a_clinic_admin_adds_the_sites_public_holidays_for_the_coming_year_in_one_step(client, web):
    site = web.clinic.site
    site.country, site.subdivision = "US", "TX"
    site.save(update_fields=["country", "subdivision"])
    _all_day(site, dt.date(2026, 12, 25), "Christmas (typed by hand)")
    with time_machine.travel(dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC), tick=False):
        login(client, web.admin.user)
        page = client.get(reverse("web:site-holidays"), {"site": site.pk})
        assert page.status_code == 200
        text = page.content.decode()
        assert "Thanksgiving Day" in text and "Thu 26 Nov 2026" in text
        assert "New Year&#x27;s Day" in text and "Fri 1 Jan 2027" in text
        assert "Texas Independence Day" in text  # the state's own holiday
        assert "Sat 20 Nov 2027" not in text  # a year ahead, no more
        assert "Fri 25 Dec 2026" not in text  # already closed
        assert "Add these closures" in text
        response = client.post(reverse("web:site-holidays") + f"?site={site.pk}")
        assert response.status_code == 302
    added = Closure.objects.filter(site=site).exclude(reason__contains="by hand")
    thanksgiving = added.get(reason="Thanksgiving Day")
    assert thanksgiving.starts_at == dt.datetime(2026, 11, 26, tzinfo=site.zone)
    assert thanksgiving.ends_at == dt.datetime(2026, 11, 27, tzinfo=site.zone)
    assert added.filter(reason="Texas Independence Day").exists()
    assert not added.filter(starts_at=dt.datetime(2026, 12, 25, tzinfo=site.zone)).exists()
    count = added.count()
    with time_machine.travel(dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC), tick=False):
        again = client.get(reverse("web:site-holidays"), {"site": site.pk}).content.decode()
        assert "Thanksgiving Day" not in again
        client.post(reverse("web:site-holidays") + f"?site={site.pk}")  # a second click adds nothing
    assert Closure.objects.filter(site=site).exclude(reason__contains="by hand").count() == count


def test_only_clinic_admins_open_the_public_holidays_page(client, web):
    for staff in (web.desk, web.nurse, web.prescriber):
        client.logout()
        login(client, staff.user)
        assert client.get(reverse("web:site-holidays")).status_code == 403
        assert client.post(reverse("web:site-holidays")).status_code == 403
    assert not Closure.objects.exists()


def test_the_board_warns_when_sessions_are_booked_on_a_public_holiday_the_site_is_not_closed_for(client, web):
    site = web.clinic.site
    site.country, site.subdivision = "US", "TX"  # 2 March is Texas Independence Day
    site.save(update_fields=["country", "subdivision"])
    login(client, web.desk.user)
    board = client.get(reverse("web:board"), {"day": "2026-03-02"}).content.decode()
    assert "Mon 2 Mar is Texas Independence Day, a public holiday, and the site is not closed" in board
    assert "public holiday" not in client.get(reverse("web:board"), {"day": "2026-03-03"}).content.decode()
    _all_day(site, dt.date(2026, 3, 2), "Texas Independence Day")
    assert "public holiday" not in client.get(reverse("web:board"), {"day": "2026-03-02"}).content.decode()
