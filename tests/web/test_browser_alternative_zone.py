"""In the browser: a course refused at a Denver site offers the nearest course that fits at the New
York site the desk also works at, and the desk reads its first session at New York's time, with the
zone named (its full name on hover), not at Denver's; "Propose this" proposes that course at New York
and "Book" books it there, onto New York's board (set up as in test_browser.py, on the clock)."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from clinic.models import Closure, Role
from scheduling.models import Appointment
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


def _refused_at_home(page: Page, live_server):
    """A plan at a Denver site closed for ten weeks, its course refused there: the desk, who works at
    the New York site too, is on the page that offers the nearest courses that fit."""
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
    return home, east, plan, start, offer


def test_the_desk_reads_another_sites_alternative_in_that_sites_time(page: Page, live_server):
    _home, east, _plan, start, offer = _refused_at_home(page, live_server)
    # The east site opens at 08:00 its time, two hours before Denver's 08:00 (06:00 there).
    eight_there = dt.datetime.combine(start, dt.time(8), tzinfo=east.zone)
    # A day outside the current year is shown with its year (the clock's turn of the year).
    year = f" {start.year}" if start.year != timezone.localdate().year else ""
    expect(offer).to_contain_text(f"first session {eight_there:%a %-d %b}{year}, 08:00 {eight_there.tzname()}")
    zone = offer.get_by_test_id("alternative-zone")
    expect(zone).to_have_attribute("title", "East Side Infusion's time zone, America/New_York")
    expect(offer).not_to_contain_text("06:00")


def test_propose_this_on_another_sites_alternative_books_it_there(page: Page, live_server):
    home, east, plan, start, offer = _refused_at_home(page, live_server)
    offer.get_by_role("button", name="Propose this").click()

    # The course proposed is the one offered, at East Side, in its time: not refused again at Denver.
    proposal = page.get_by_role("region", name="2. Check and book")
    expect(proposal).to_be_visible()
    expect(proposal.get_by_test_id("proposal-site")).to_contain_text("East Side Infusion")
    expect(proposal.get_by_test_id("proposal-site")).to_contain_text("America/New_York")
    rows = proposal.get_by_test_id("proposed-session")
    expect(rows).to_have_count(plan.protocol.induction_session_count)
    expect(rows.first).to_contain_text("08:00–")
    expect(page.get_by_role("region", name="Nearest courses that fit")).to_have_count(0)

    proposal.get_by_role("button", name=re.compile(r"^Book all")).click()

    # The board of East Side on the first session's day, with Cleo's session at 08:00 there.
    expect(page).to_have_url(re.compile(rf"/board/\?site={east.pk}&day={start.isoformat()}$"))
    sessions = page.get_by_test_id("session")
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_have_attribute("aria-label", re.compile(r"^08:00 .*Cleo"))
    booked = Appointment.objects.filter(plan=plan)
    assert booked.count() == plan.protocol.induction_session_count
    assert set(booked.values_list("site_id", flat=True)) == {east.pk}
    plan.refresh_from_db()
    assert plan.site_id == home.pk
