"""Issue 20 #13, in a real browser (Debian's Chromium through Playwright): on a sparse board day
(one session, at 08:00, the first column) the session's menu and its "Cancel and rebook…" form are
not cut off by the board's scroll area: every control lies inside the viewport and inside every
ancestor that clips, as it opens, without scrolling anything."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from scheduling.models import Appointment
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    PHONE,
    browser_context_args,
    browser_type_launch_args,
    first_workday_after,
    live_clinic,
    log_in,
    patient_with_plan,
)

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]

# Inside the viewport, and inside every ancestor that clips (overflow other than visible) up to
# the first fixed-positioned one, without scrolling any of them: what the desk sees as it opens.
NOT_CLIPPED = """(element) => {
    const box = element.getBoundingClientRect();
    const clippedBy = [];
    for (let node = element; node && node !== document.body; node = node.parentElement) {
        const style = getComputedStyle(node);
        if (node !== element && (style.overflowX !== "visible" || style.overflowY !== "visible")) {
            const edge = node.getBoundingClientRect();
            if (box.left < edge.left - 1 || box.right > edge.right + 1 || box.top < edge.top - 1 || box.bottom > edge.bottom + 1) {
                clippedBy.push(node.className || node.tagName);
            }
        }
        if (style.position === "fixed") break;
    }
    return {
        inViewport: box.left >= 0 && box.top >= 0 && box.right <= window.innerWidth && box.bottom <= window.innerHeight,
        clippedBy: clippedBy,
    };
}"""


def test_the_cancel_and_rebook_menu_is_not_clipped_on_a_sparse_day(page: Page, live_server, live_clinic):  # noqa: F811
    site = live_clinic.site
    plan = patient_with_plan(live_clinic, "omar", "Omar", "Reyes", book=True)
    first = Appointment.objects.filter(plan=plan).order_by("starts_at").first()
    day = first.starts_at.astimezone(site.zone).date()
    # The course's first session, moved to 08:00 on Chair 1: alone on its day (the next is days later).
    starts = dt.datetime.combine(day, dt.time(8), tzinfo=site.zone)
    Appointment.objects.filter(pk=first.pk).update(
        starts_at=starts, ends_at=starts + (first.ends_at - first.starts_at), chair=site.chairs.get(name="Chair 1")
    )
    assert timezone.now() < starts
    log_in(page, live_server.url, "desk_rita")
    for viewport in ({"width": 1366, "height": 768}, PHONE):
        page.set_viewport_size(viewport)
        page.goto(f"{live_server.url}/board/?site={site.pk}&day={day.isoformat()}")
        expect(page.get_by_test_id("session")).to_have_count(1)
        menu = page.locator("details.block__more")
        menu.locator("> summary").click()
        panel = menu.locator(".block__panel")
        panel.locator("details.cancel > summary").click()
        panel.get_by_label("Reason for cancelling").fill("Car broke down")
        for control in (
            panel.get_by_label("Reason for cancelling"),
            panel.get_by_role("button", name="Cancel only"),
            panel.get_by_role("button", name="Cancel and rebook…"),
        ):
            assert control.evaluate(NOT_CLIPPED) == {"inViewport": True, "clippedBy": []}, viewport
    page.locator(".block__panel").get_by_role("button", name="Cancel and rebook…").click()
    expect(page.get_by_role("heading", name="Cancel and rebook")).to_be_visible()
