"""Issue 20 #16: all-day closures read "Closed all day"; each site is offered its country's and
state's public holidays for the coming year as closures a clinic administrator confirms in one
step; the board warns when sessions are booked on a public holiday the site is not closed for."""

from __future__ import annotations

import datetime as dt
import re

import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from clinic.models import Closure
from scheduling.models import AppointmentStatus
from tests.factories import AppointmentFactory
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
        assert "Add the ticked closures" in text
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


def test_adding_public_holidays_over_booked_sessions_tells_the_admin_which_sessions_to_move(client, web):
    site = web.clinic.site
    site.country, site.subdivision = "US", "TX"  # 2 March is Texas Independence Day
    site.save(update_fields=["country", "subdivision"])
    on_the_holiday = [
        a for a in web.sessions_a + web.sessions_b if a.starts_at.astimezone(site.zone).date() == dt.date(2026, 3, 2)
    ]
    thanksgiving = dt.datetime(2026, 11, 26, 10, tzinfo=site.zone)  # beyond the 26 weeks To move looks ahead
    AppointmentFactory(chair=web.clinic.chairs[0], patient=web.patient_a, starts_at=thanksgiving)
    AppointmentFactory(
        chair=web.clinic.chairs[1],
        starts_at=thanksgiving,
        status=AppointmentStatus.CANCELLED,
        cancelled_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
    )
    with time_machine.travel(dt.datetime(2026, 2, 27, 15, tzinfo=dt.UTC), tick=False):
        login(client, web.admin.user)
        response = client.post(reverse("web:site-holidays") + f"?site={site.pk}")
    assert response.status_code == 302
    assert Closure.objects.filter(site=site, reason="Texas Independence Day").exists()
    said = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    first = min(a.starts_at for a in on_the_holiday).astimezone(site.zone)
    expected = (
        f"{len(on_the_holiday) + 1} booked sessions at {site.name} fall on the public holidays just closed,"
        f" the first on {first:%a %-d %b %Y %H:%M}: see the"
        f' <a href="/board/?site={site.pk}&amp;day=2026-03-02">day board</a>; the front desk moves them from'
        " To move. 1 of them is more than 26 weeks ahead"
    )
    assert len(said) == 1 and said[0].startswith(expected), said


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
    zone = site.zone
    # Closed by a morning's and an afternoon's closure between them: closed all the same.
    morning = Closure.objects.create(
        site=site,
        reason="Holiday morning",
        starts_at=dt.datetime(2026, 3, 2, tzinfo=zone),
        ends_at=dt.datetime(2026, 3, 2, 12, tzinfo=zone),
    )
    Closure.objects.create(
        site=None,
        reason="Holiday afternoon",
        starts_at=dt.datetime(2026, 3, 2, 12, tzinfo=zone),
        ends_at=dt.datetime(2026, 3, 3, tzinfo=zone),
    )
    assert "public holiday" not in client.get(reverse("web:board"), {"day": "2026-03-02"}).content.decode()
    morning.delete()
    assert "public holiday" in client.get(reverse("web:board"), {"day": "2026-03-02"}).content.decode()
    _all_day(site, dt.date(2026, 3, 2), "Texas Independence Day")
    assert "public holiday" not in client.get(reverse("web:board"), {"day": "2026-03-02"}).content.decode()


def test_a_holiday_closed_by_a_morning_and_an_afternoon_closure_is_not_offered_again(client, web):
    site = web.clinic.site
    site.country, site.subdivision = "US", "TX"
    site.save(update_fields=["country", "subdivision"])
    day, zone = dt.date(2026, 12, 25), site.zone
    Closure.objects.create(
        site=site,
        reason="Christmas morning",
        starts_at=dt.datetime.combine(day, dt.time(0), tzinfo=zone),
        ends_at=dt.datetime.combine(day, dt.time(12), tzinfo=zone),
    )
    Closure.objects.create(
        site=None,
        reason="Christmas afternoon (every site)",
        starts_at=dt.datetime.combine(day, dt.time(12), tzinfo=zone),
        ends_at=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone),
    )
    with time_machine.travel(dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC), tick=False):
        login(client, web.admin.user)
        text = client.get(reverse("web:site-holidays"), {"site": site.pk}).content.decode()
        assert "Thanksgiving Day" in text
        assert "Fri 25 Dec 2026" not in text, "a day closed by two closures end to end is offered again"
        client.post(reverse("web:site-holidays") + f"?site={site.pk}")
    assert not Closure.objects.filter(site=site, reason="Christmas Day").exists()


def test_a_holiday_on_a_weekday_the_site_never_opens_is_not_offered_as_a_closure(client, web):
    """Independence Day 2027 is a Sunday, when the site never opens: no closure to add for it; the
    Monday it is observed on is offered."""
    site = web.clinic.site
    site.country, site.subdivision = "US", ""
    site.save(update_fields=["country", "subdivision"])
    assert not site.opening_hours.filter(weekday=6).exists()
    with time_machine.travel(dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC), tick=False):
        login(client, web.admin.user)
        text = client.get(reverse("web:site-holidays"), {"site": site.pk}).content.decode()
        assert "Mon 5 Jul 2027" in text
        assert "Sun 4 Jul 2027" not in text
        client.post(reverse("web:site-holidays") + f"?site={site.pk}")
    added = {c.starts_at.astimezone(site.zone).date() for c in Closure.objects.filter(site=site)}
    assert dt.date(2027, 7, 5) in added and dt.date(2027, 7, 4) not in added


def test_only_the_ticked_holidays_become_closures(client, web):
    """A clinic that works a public holiday unticks it; nothing ticked adds nothing, and a ticked
    value that is not a day is refused."""
    site = web.clinic.site
    site.country, site.subdivision = "US", ""
    site.save(update_fields=["country", "subdivision"])
    url = reverse("web:site-holidays") + f"?site={site.pk}"
    with time_machine.travel(dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC), tick=False):
        login(client, web.admin.user)
        text = client.get(reverse("web:site-holidays"), {"site": site.pk}).content.decode()
        offered = re.findall(r'name="day" value="(\d{4}-\d\d-\d\d)" checked', text)
        assert "2026-11-26" in offered and "2026-11-11" not in offered  # Thanksgiving; Veterans Day is past
        nothing = client.post(url, {"choose": "1"}, follow=True)
        assert "No public holiday was ticked" in nothing.content.decode()
        assert not Closure.objects.filter(site=site).exists()
        assert client.post(url, {"choose": "1", "day": ["2026-11-26", "26/11/2026"]}).status_code == 400
        assert not Closure.objects.filter(site=site).exists()
        # Thanksgiving and New Year's Day ticked, the rest (Christmas among them) worked.
        assert client.post(url, {"choose": "1", "day": ["2026-11-26", "2027-01-01"]}).status_code == 302
    closed = {c.starts_at.astimezone(site.zone).date(): c.reason for c in Closure.objects.filter(site=site)}
    assert closed == {dt.date(2026, 11, 26): "Thanksgiving Day", dt.date(2027, 1, 1): "New Year's Day"}
