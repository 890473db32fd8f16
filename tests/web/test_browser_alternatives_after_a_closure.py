"""In the browser: a course asked to start inside a two-week closure is refused, and the nearest courses
that fit are each a different course, named by the day it really starts (with its year when that is
not this year), not three later starts inside the closure that all come to the same course. "Propose
this" proposes the course offered (set up as in test_browser.py, on the clock)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from clinic.models import Closure, Role
from scheduling.engine.model import day_label
from scheduling.services import plan_create
from tests.factories import ChairFactory, PatientFactory, ProtocolFactory, SiteFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import add_shifts
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    log_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]

NY = ZoneInfo("America/New_York")


def test_the_nearest_courses_after_a_closure_are_different_courses_named_by_their_first_day(page: Page, live_server):
    today = timezone.now().astimezone(NY).date()
    site = SiteFactory(name="Harbour Infusion", time_zone="America/New_York")
    ChairFactory(site=site, name="Chair 1")
    add_shifts(StaffFactory(role=Role.NURSE, sites=[site]), site, today - dt.timedelta(days=1), 90)
    closed_from = today + dt.timedelta(days=14 - today.weekday())  # a Monday, one or two weeks ahead
    reopens = closed_from + dt.timedelta(days=14)  # a Monday
    Closure.objects.create(
        site=site,
        reason="Refurbishment",
        starts_at=dt.datetime.combine(closed_from, dt.time(0), tzinfo=NY),
        ends_at=dt.datetime.combine(reopens, dt.time(0), tzinfo=NY),
    )
    prescriber = StaffFactory(role=Role.PRESCRIBER, sites=[site])
    StaffFactory(role=Role.FRONT_DESK, sites=[site], user=UserFactory(username="desk_rita"))
    patient = PatientFactory(first_name="Cleo", last_name="Cole", home_site=site, escort_name="Chris Cole")
    start = closed_from + dt.timedelta(days=7)
    plan = plan_create(
        patient=patient, protocol=ProtocolFactory(), prescriber=prescriber, start_date=start, actor=prescriber.user
    )

    log_in(page, live_server.url, "desk_rita")
    page.goto(f"{live_server.url}/plans/{plan.pk}/book/")
    page.get_by_label("First possible day").fill(start.isoformat())
    page.get_by_role("button", name="Propose sessions").click()
    section = page.get_by_role("region", name="Nearest courses that fit")
    expect(section).to_be_visible()
    offers = section.get_by_role("listitem")
    expect(offers).to_have_count(3)
    # Mon, Tue and Wed of the week the site reopens; the year said only when it is not this year at
    # the site (the page shows an alternative in its site's time).
    this_year = today.year
    for offer, first_day in zip(offers.all(), [reopens + dt.timedelta(days=n) for n in range(3)], strict=True):
        named = day_label(first_day, this_year)
        expect(offer).to_contain_text(f"Start {named} at Harbour Infusion — first session {named}, 08:00")

    offers.first.get_by_role("button", name="Propose this").click()
    proposal = page.get_by_role("region", name="2. Check and book")
    expect(proposal).to_be_visible()
    rows = proposal.get_by_test_id("proposed-session")
    expect(rows).to_have_count(plan.protocol.induction_session_count)
    expect(rows.first).to_contain_text(f"{reopens:%A} {reopens.day} {reopens:%B}")
