"""Issue 20 #17, in a real browser (Debian's Chromium through Playwright): axe-core's
colour-contrast rule finds nothing in the header (brand, navigation, the account link, Log out)
on every main page of every role; the account link was once drawn in the bar's own colour
(rgb(11,92,107) on rgb(11,92,107))."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import Page

from clinic.models import Role
from tests.factories import StaffFactory, UserFactory
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    live_clinic,
    log_in,
    patient_with_plan,
)

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]

CONTRAST_ONLY = {"runOnly": {"type": "rule", "values": ["color-contrast"]}}


def _header_contrast_problems(page: Page) -> list[str]:
    results = Axe().run(page, context="header.topbar", options=CONTRAST_ONLY)
    problems = [
        f"{page.url}: {node['target']} {node['failureSummary']}"
        for rule in results.response["violations"]
        for node in rule["nodes"]
    ]
    # Text in exactly its background's colour is only "incomplete" to axe (it may be hidden on
    # purpose), not a violation: that is how the invisible account link slipped through.
    problems += [
        f"{page.url}: {node['target']} drawn in its background's colour"
        for rule in results.response["incomplete"]
        for node in rule["nodes"]
        if any((check.get("data") or {}).get("messageKey") == "equalRatio" for check in node["any"])
    ]
    return problems


@pytest.mark.clock(zone="America/New_York", calendar=False)  # no date in what it checks
def test_the_header_passes_axes_colour_contrast_check_on_every_main_page_for_every_role(
    page: Page,
    live_server,
    live_clinic,  # noqa: F811
):
    clinic = live_clinic
    plan = patient_with_plan(clinic, "grace", "Grace", "Whitfield", book=True)
    patient = plan.patient
    StaffFactory(role=Role.NURSE, sites=[clinic.site], user=UserFactory(username="nurse_nia", first_name="Nia"))
    StaffFactory(role=Role.CLINIC_ADMIN, sites=[clinic.site], user=UserFactory(username="admin_ada", first_name="Ada"))
    chart = reverse("web:patient", args=[patient.pk])
    desk_pages = ["/board/", "/week/", "/patients/", chart, "/waitlist/", "/account/"]
    pages = {
        "desk_rita": desk_pages,
        "nurse_nia": [*desk_pages, reverse("clinical:cs-log")],
        "dr_hale": [*desk_pages, reverse("clinical:cs-log")],
        "admin_ada": ["/board/", "/week/", reverse("clinical:cs-log"), reverse("web:site-holidays"), "/account/"],
        "grace": ["/", "/account/"],
    }
    problems: list[str] = []
    checked = 0
    for username, paths in pages.items():
        page.context.clear_cookies()
        log_in(page, live_server.url, username)
        for path in paths:
            response = page.goto(live_server.url + path)
            assert response is not None and response.status == 200, (username, path)
            assert page.locator("header.topbar .whoami").is_visible(), (username, path)
            problems += _header_contrast_problems(page)
            checked += 1
    assert checked == 27
    assert problems == []
