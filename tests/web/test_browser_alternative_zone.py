"""In the browser: a course refused at a Denver site offers the nearest course that fits at the New
York site the desk also works at, and the desk reads its first session at New York's time, with the
zone named (its full name on hover), not at Denver's (set up as in test_browser.py, on the clock)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from clinic.models import Closure, Role
from scheduling.services import plan_create
from tests.factories import ChairFactory, PatientFactory, ProtocolFactory, SiteFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import add_shifts
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    log_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/Denver"), pytest.mark.django_db(transaction=True)]


def _site_with_a_nurse(name: str, zone: str, today: dt.date):
    site = SiteFactory(name=name, time_zone=zone)
    ChairFactory(site=site, name="Chair 1")
    add_shifts(StaffFactory(role=Role.NURSE, sites=[site]), site, today - dt.timedelta(days=1), 70)
    return site


def test_the_desk_reads_another_sites_alternative_in_that_sites_time(page: Page, live_server):
    now = timezone.now()
    today = now.astimezone(ZoneInfo("America/Denver")).date()
    home = _site_with_a_nurse("Foothills Infusion", "America/Denver", today)
    east = _site_with_a_nurse("East Side Infusion", "America/New_York", today)
    Closure.objects.create(
        site=home,
        reason="Refurbishment",
        starts_at=dt.datetime.combine(today, dt.time(0), tzinfo=home.zone),
        ends_at=dt.datetime.combine(today + dt.timedelta(days=69), dt.time(0), tzinfo=home.zone),
    )
    prescriber = StaffFactory(role=Role.PRESCRIBER, sites=[home])
    StaffFactory(role=Role.FRONT_DESK, sites=[home, east], user=UserFactory(username="desk_rita"))
    patient = PatientFactory(
        user=UserFactory(username="cleo", first_name="Cleo", last_name="Cole"),
        first_name="Cleo",
        last_name="Cole",
        home_site=home,
        escort_name="Chris Cole",
    )
    start = today + dt.timedelta(days=14 - today.weekday())  # a Monday, a week or two ahead
    plan = plan_create(
        patient=patient, protocol=ProtocolFactory(), prescriber=prescriber, start_date=start, actor=prescriber.user
    )

    log_in(page, live_server.url, "desk_rita")
    page.goto(f"{live_server.url}/plans/{plan.pk}/book/")
    page.get_by_label("First possible day").fill(start.isoformat())
    page.get_by_role("button", name="Propose sessions").click()
    section = page.get_by_role("region", name="Nearest courses that fit")
    expect(section).to_be_visible()
    offer = section.get_by_role("listitem").filter(has_text="East Side Infusion")
    # The east site opens at 08:00 its time, two hours before Denver's 08:00 (06:00 there).
    eight_there = dt.datetime.combine(start, dt.time(8), tzinfo=east.zone)
    expect(offer).to_contain_text(f"first session {eight_there:%a %-d %b}, 08:00 {eight_there.tzname()}")
    zone = offer.get_by_test_id("alternative-zone")
    expect(zone).to_have_attribute("title", "East Side Infusion's time zone, America/New_York")
    expect(offer).not_to_contain_text("06:00")
