"""Issue 20 #18, in a real browser (Debian's Chromium through Playwright): a 100-character
patient name wraps in the chart header instead of running off it, on a desktop and on a phone."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page

from tests.factories import PatientFactory
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    PHONE,
    browser_context_args,
    browser_type_launch_args,
    live_clinic,
    log_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]


@pytest.mark.clock(zone="America/New_York", calendar=False)  # no date in what it checks
def test_a_100_character_patient_name_wraps_inside_the_chart_header(page: Page, live_server, live_clinic):  # noqa: F811
    # No space or hyphen in the last name to break at, as in the report.
    first, last = (
        "Maximiliana",
        "Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissenhaftschaferswessenschafewarenwohl"[:88],
    )
    name = f"{first} {last}"
    assert len(name) == 100
    patient = PatientFactory(first_name=first, last_name=last, home_site=live_clinic.site)
    log_in(page, live_server.url, "desk_rita")
    for viewport in ({"width": 1366, "height": 900}, PHONE):
        page.set_viewport_size(viewport)
        page.goto(live_server.url + reverse("web:patient", args=[patient.pk]))
        heading = page.get_by_role("heading", level=1)
        assert heading.inner_text().strip() == name
        overflow = page.evaluate(
            """() => {
                const head = document.querySelector('.page-head');
                const h1 = head.querySelector('h1');
                const box = head.getBoundingClientRect();
                const title = h1.getBoundingClientRect();
                return {
                    pageScrolls: document.documentElement.scrollWidth > document.documentElement.clientWidth,
                    headOverflows: head.scrollWidth > head.clientWidth + 1,
                    titleOverflows: h1.scrollWidth > h1.clientWidth + 1,
                    titleOutside: title.right > box.right + 1 || title.left < box.left - 1,
                };
            }"""
        )
        assert overflow == {
            "pageScrolls": False,
            "headOverflows": False,
            "titleOverflows": False,
            "titleOutside": False,
        }, viewport
