"""Closures and shifts typed in the admin are read, and shown, on the wall clock of the site they
belong to (clinic.admin.SiteClockForm), not on the server's (UTC): a Los Angeles closure typed 00:00
to 00:00 closes that local day, the nights the clocks change included. A closure of every site is
read on the server's clock, and the form names each clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from clinic.errors import DomainError
from clinic.models import Closure, Role, Shift
from scheduling.services import appointment_book
from tests.admin_pages import as_posted, errors_on
from tests.factories import SiteFactory, StaffFactory
from tests.scheduling.conftest import NOW, make_clinic
from tests.test_admin_concurrent_edits import _change_form_data
from tests.test_admin_set_up_changes import _sign_in

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
TUESDAY = dt.date(2026, 3, 3)
SPRING_FORWARD = dt.date(2026, 3, 8)  # Los Angeles: 02:00 PST becomes 03:00 PDT
FALL_BACK = dt.date(2026, 11, 1)  # Los Angeles: 02:00 PDT becomes 01:00 PST


def _add(client, url: str, **fields) -> object:
    data = _change_form_data(client.get(url))
    data.update(fields)
    return client.post(url, data)


def _closure(client, site, start: tuple[str, str], end: tuple[str, str], reason: str = "Staff training"):
    return _add(
        client,
        "/admin/clinic/closure/add/",
        **({"site": site.pk} if site is not None else {}),
        reason=reason,
        starts_at_0=start[0],
        starts_at_1=start[1],
        ends_at_0=end[0],
        ends_at_1=end[1],
    )


def test_a_closure_typed_in_the_admin_for_a_site_closes_that_sites_local_day(client):
    with time_machine.travel(NOW, tick=False):
        clinic = make_clinic(time_zone="America/Los_Angeles")
        _sign_in(client)
        response = _closure(client, clinic.site, ("2026-03-03", "00:00:00"), ("2026-03-04", "00:00:00"))
        assert response.status_code == 302
        closure = Closure.objects.get(reason="Staff training")
        assert (closure.starts_at, closure.ends_at) == (
            dt.datetime(2026, 3, 3, tzinfo=LA),
            dt.datetime(2026, 3, 4, tzinfo=LA),
        ), "the closure was not read on the site's clock"
        plan = clinic.plan()
        with pytest.raises(DomainError):  # 16:00 on the closed Tuesday
            appointment_book(
                patient=plan.patient,
                plan=plan,
                site=clinic.site,
                starts_at=dt.datetime.combine(TUESDAY, dt.time(16), tzinfo=LA),
                chair=clinic.chairs[0],
                actor=clinic.front_desk.user,
                now=NOW,
            )
        shown = _change_form_data(client.get(f"/admin/clinic/closure/{closure.pk}/change/"))
        assert (shown["starts_at_0"], shown["starts_at_1"]) == ("2026-03-03", "00:00:00"), "not shown as typed"
        assert "Tue 3 Mar 2026 00:00 PST" in client.get("/admin/clinic/closure/").content.decode()


def test_the_night_the_clocks_go_forward_a_closure_closes_the_short_day_and_a_skipped_time_is_refused(client):
    site = SiteFactory(time_zone="America/Los_Angeles")
    nurse = StaffFactory(role=Role.NURSE, sites=[site])
    _sign_in(client)
    response = _closure(client, site, ("2026-03-08", "00:00:00"), ("2026-03-09", "00:00:00"))
    assert response.status_code == 302
    closure = Closure.objects.get(reason="Staff training")
    assert (closure.starts_at, closure.ends_at) == (
        dt.datetime(2026, 3, 8, 8, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 9, 7, tzinfo=dt.UTC),
    ), "the 23-hour local day was not closed"
    shift = {"staff": nurse.pk, "site": site.pk, "starts_at_0": "2026-03-08", "ends_at_0": "2026-03-08"}
    refused = _add(client, "/admin/clinic/shift/add/", **shift, starts_at_1="02:30:00", ends_at_1="10:00:00")
    assert refused.status_code == 200
    assert any(
        "08 Mar 2026 02:30 does not exist in America/Los_Angeles: the clocks went forward that night" in error
        for error in errors_on(refused.content.decode())
    ), errors_on(refused.content.decode())
    saved = _add(client, "/admin/clinic/shift/add/", **shift, starts_at_1="01:00:00", ends_at_1="09:00:00")
    assert saved.status_code == 302
    stored = Shift.objects.get(staff=nurse)
    assert stored.ends_at - stored.starts_at == dt.timedelta(hours=7), "01:00 to 09:00 that night is seven hours"


def test_a_closure_saved_again_unchanged_keeps_an_end_in_the_repeated_hour(client):
    site = SiteFactory(time_zone="America/Los_Angeles")
    second_one_thirty = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)  # 01:30 PST, after the clocks went back
    closure = Closure.objects.create(
        site=site, reason="Boiler", starts_at=dt.datetime(2026, 10, 31, 7, tzinfo=dt.UTC), ends_at=second_one_thirty
    )
    _sign_in(client)
    url = f"/admin/clinic/closure/{closure.pk}/change/"
    data = _change_form_data(client.get(url))
    assert (data["ends_at_0"], data["ends_at_1"]) == ("2026-11-01", "01:30:00")
    data["reason"] = "Boiler repair"
    assert client.post(url, data).status_code == 302
    closure.refresh_from_db()
    assert (closure.reason, closure.ends_at) == ("Boiler repair", second_one_thirty), "the end moved an hour"
    data = _change_form_data(client.get(url))
    data.update(ends_at_0="2026-11-01", ends_at_1="01:45:00")  # typed: the first 01:45, as the engine reads it
    assert client.post(url, data).status_code == 302
    closure.refresh_from_db()
    assert closure.ends_at == dt.datetime(2026, 11, 1, 8, 45, tzinfo=dt.UTC)


def test_a_closure_of_every_site_is_read_on_the_servers_clock_and_the_form_names_each_clock(client, settings):
    settings.TIME_ZONE = "UTC"
    SiteFactory(name="West <b>", time_zone="America/Los_Angeles"), SiteFactory(name="East")
    _sign_in(client)
    form = client.get("/admin/clinic/closure/add/").content.decode()
    assert "America/Los_Angeles at West &lt;b&gt;" in form and "America/New_York at East" in form
    assert "A closure of every site: on UTC, the server&#x27;s clock." in form
    response = _closure(client, None, ("2026-12-25", "00:00:00"), ("2026-12-26", "00:00:00"), reason="Christmas")
    assert response.status_code == 302
    closure = Closure.objects.get(reason="Christmas")
    assert closure.site is None
    assert (closure.starts_at, closure.ends_at) == (
        dt.datetime(2026, 12, 25, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 26, tzinfo=dt.UTC),
    ), "a closure of every site was not read on the server's clock"


def test_a_shift_typed_on_the_staff_page_is_read_on_its_sites_clock(client):
    site = SiteFactory(time_zone="America/Los_Angeles")
    nurse = StaffFactory(role=Role.NURSE, sites=[site])
    _sign_in(client)
    url = f"/admin/clinic/staffmember/{nurse.pk}/change/"
    data = as_posted(client.get(url).content.decode())
    data.update(
        {
            "shifts-TOTAL_FORMS": "1",
            "shifts-0-staff": str(nurse.pk),
            "shifts-0-site": str(site.pk),
            "shifts-0-starts_at_0": "2031-03-04",
            "shifts-0-starts_at_1": "07:00:00",
            "shifts-0-ends_at_0": "2031-03-04",
            "shifts-0-ends_at_1": "15:00:00",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, errors_on(response.content.decode())
    shift = Shift.objects.get(staff=nurse)
    assert (shift.starts_at, shift.ends_at) == (
        dt.datetime(2031, 3, 4, 7, tzinfo=LA),
        dt.datetime(2031, 3, 4, 15, tzinfo=LA),
    ), "the shift was not read on its site's clock"
