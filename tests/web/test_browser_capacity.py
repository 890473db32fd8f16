"""The clinic manager's pages in a real browser (Debian's Chromium through Playwright): the capacity
page draws its four matplotlib charts (images that load, under the page's CSP), the day-template
page lists the template per chair, and the day board marks a free gap at a template start as
preferred. The data is built around the instant the `clock` mark sets (`clock_now`, tests/clock.py)."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from clinic.models import Role, Site
from scheduling import tasks
from scheduling.models import DayTemplate, DayTemplateState
from scheduling.services import day_template as day_template_service
from scheduling.services.day_template import day_template_regenerate
from tests.factories import StaffFactory, UserFactory
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    first_workday_after,
    live_clinic,
    log_in,
    patient_with_plan,
    shoot,
)
from tests.web.test_browser_board import _serious

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]
CHARTS = ("utilisation", "setups", "waits", "overtime")


@pytest.fixture
def manager(live_clinic):  # noqa: F811
    return StaffFactory(
        role=Role.CLINIC_ADMIN,
        sites=[live_clinic.site],
        user=UserFactory(username="admin_ada", first_name="Ada", last_name="Stone"),
    )


@pytest.fixture
def template(live_clinic, manager, clock_now):  # noqa: F811
    result = day_template_regenerate(site=live_clinic.site, actor=manager.user, now=clock_now)
    assert result.state == DayTemplateState.DONE
    return result


def test_the_capacity_page_shows_its_four_charts(page: Page, live_server, live_clinic, manager, template):  # noqa: F811
    patient_with_plan(live_clinic, "grace", "Grace", "Whitfield", book=True)
    log_in(page, live_server.url, "admin_ada")

    page.get_by_role("link", name="Capacity").click()

    expect(page.get_by_role("heading", name="Capacity", level=1)).to_be_visible()
    expect(page.get_by_test_id("capacity-period")).to_have_count(2)
    expect(page.get_by_test_id("capacity-period").nth(1)).to_contain_text("6")  # the course, booked since
    for name in CHARTS:
        chart = page.get_by_test_id(f"chart-{name}")
        expect(chart).to_be_visible()
        chart.scroll_into_view_if_needed()
        assert chart.evaluate("img => img.complete && img.naturalWidth > 0"), f"the {name} chart did not load"
        assert chart.bounding_box()["height"] > 100
    assert _serious(page) == []
    shoot(page, "60-capacity", first_screen_too=True)

    # The period form is one line: the day input no longer takes the whole width, below the rest.
    controls = [
        page.get_by_label("Weeks"),
        page.get_by_label("before and since"),
        page.get_by_role("button", name="Show"),
    ]
    middles = [box["y"] + box["height"] / 2 for box in (control.bounding_box() for control in controls)]
    assert max(middles) - min(middles) < 4, middles
    page.get_by_label("Weeks").select_option("8")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("capacity-period").first).to_contain_text("8 weeks before")
    assert page.get_by_test_id("chart-setups").evaluate("img => img.naturalWidth > 0")


def test_the_day_template_page_lists_the_starts_per_chair(page: Page, live_server, live_clinic, template):  # noqa: F811
    log_in(page, live_server.url, "admin_ada")

    page.get_by_role("link", name="Day template").click()

    expect(page.get_by_test_id("sessions-per-day")).to_have_text(str(template.sessions_per_day))
    expect(page.get_by_test_id("template-chair")).to_have_count(3)
    expect(page.get_by_test_id("template-chair").first).to_contain_text("08:00")
    expect(page.get_by_test_id("computed")).to_contain_text("Ada Stone")
    assert _serious(page) == []
    shoot(page, "61-day-template")


def test_the_board_marks_a_free_gap_at_a_template_start_as_preferred(
    page: Page,
    live_server,
    live_clinic,  # noqa: F811
    template,
    clock_now,
):
    # The board stars template starts only where booking prefers them: at a level-loaded site.
    Site.objects.filter(pk=live_clinic.site.pk).update(placement_policy="level")
    day = first_workday_after(clock_now.astimezone(live_clinic.site.zone).date(), 5)
    starts = sorted(entry["start"] for entry in template.starts)
    log_in(page, live_server.url, "desk_rita")

    page.goto(f"{live_server.url}/board/?site={live_clinic.site.pk}&day={day.isoformat()}")

    preferred = page.locator('[data-testid="free-gap"][data-preferred="true"]')
    expect(preferred).to_have_count(len(starts))
    expect(preferred.first).to_be_visible()
    expect(preferred.first).to_contain_text(f"Preferred {starts[0]}")
    expect(page.locator('[data-testid="free-gap"][data-preferred="false"]').first).to_contain_text("Free from")
    shoot(page, "62-board-preferred-gaps", first_screen_too=True)

    preferred.first.click()
    expect(page).to_have_url(re.compile(r"/patients/\?chair=\d+&at="))


def test_regenerate_queues_the_solve_and_the_page_shows_the_result_when_done(
    page: Page,
    live_server,
    live_clinic,  # noqa: F811
    manager,
    monkeypatch,
):
    # The worker, played by a thread that runs the real task a moment after the request commits.
    workers: list[threading.Thread] = []

    def worker(attempt, now) -> None:
        def run() -> None:
            time.sleep(1.5)
            try:
                tasks.regenerate_day_template(attempt.pk)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        workers.append(thread)
        thread.start()

    monkeypatch.setattr(day_template_service, "_queue", worker)
    log_in(page, live_server.url, "admin_ada")
    page.get_by_role("link", name="Day template").click()
    expect(page.get_by_test_id("no-template")).to_be_visible()

    page.get_by_role("button", name="Regenerate").click()

    expect(page.get_by_test_id("latest-run")).to_contain_text("Being computed")
    # htmx asks again every 3 seconds and swaps the result in, without a reload.
    expect(page.get_by_test_id("sessions-per-day")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("latest-run")).to_have_count(0)
    expect(page.get_by_test_id("template-chair")).to_have_count(3)
    expect(page.get_by_test_id("template-run").first).to_contain_text("Computed")
    for thread in workers:
        thread.join(timeout=30)
    assert DayTemplate.objects.get().state == DayTemplateState.DONE
    shoot(page, "63-day-template-regenerated")
