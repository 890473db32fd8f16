"""In the browser: the time the site's placement policy suggests is picked already on the desk's
booking page and on the patient's own move page, so pressing the button takes it (set up as in
test_browser.py; the `clock` marker sets the clock, ticking, for the test and its live server, so the
data is built around that set instant, `clock_now`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from clinic.models import PlacementPolicy
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import appointment_cancel
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    live_clinic,
    log_in,
    patient_with_plan,
)

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]


def _suggested_radio(page: Page):
    return page.get_by_test_id("free-slot").filter(has=page.get_by_test_id("suggested-slot")).get_by_role("radio")


def test_the_desk_books_the_suggested_time_without_choosing_one(page: Page, live_server, live_clinic, clock_now):  # noqa: F811
    plan = patient_with_plan(live_clinic, "omar", "Omar", "Reyes", book=True)
    sessions = list(Appointment.objects.filter(plan=plan).order_by("starts_at"))
    appointment_cancel(
        appointment=sessions[-1], actor=live_clinic.desk.user, reason="Car broke down", now=clock_now, rebook=False
    )
    last_kept = sessions[-2].starts_at.astimezone(live_clinic.site.zone).date()
    # Level placement, whose suggestion gives its reasons (earliest's is "the earliest free time").
    live_clinic.site.placement_policy = PlacementPolicy.LEVEL
    live_clinic.site.save(update_fields=["placement_policy"])
    log_in(page, live_server.url, "desk_rita")
    page.set_viewport_size({"width": 800, "height": 900})  # a laptop's half screen: the reasons must wrap
    page.goto(f"{live_server.url}/patients/{plan.patient_id}/book-session/")
    page.get_by_label("Induction or make-up session").check()
    page.get_by_label("From").fill((last_kept + timedelta(days=1)).isoformat())
    page.get_by_label("To").fill((last_kept + timedelta(days=7)).isoformat())
    page.get_by_role("button", name="Show free times").click()
    suggested = _suggested_radio(page)
    expect(suggested).to_be_checked()
    value = suggested.get_attribute("value")
    assert value
    # Said at the top of the answer, not only beside its time in a week of times; the reasons wrap
    # inside the page (they ran off it, and the page scrolled sideways).
    summary = page.get_by_test_id("suggestion-summary")
    expect(summary).to_have_count(1)
    expect(summary).to_contain_text("Suggested: ")
    expect(summary).to_contain_text("It is selected below")
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.get_by_role("button", name="Book this session").click()
    expect(page.get_by_text("Booked a make-up session for Omar Reyes")).to_be_visible()
    starts_at = datetime.fromisoformat(value.split("|")[0])
    assert Appointment.objects.filter(plan=plan, status=AppointmentStatus.BOOKED, starts_at=starts_at).exists()


def test_the_patient_sees_the_suggested_time_picked_on_their_move_page(page: Page, live_server, live_clinic):  # noqa: F811
    plan = patient_with_plan(live_clinic, "alice", "Alice", "Archer", book=True)
    last = Appointment.objects.filter(plan=plan).order_by("starts_at").last()
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/me/reschedule/{last.pk}/")
    expect(page.get_by_role("heading", name="Change the time of your session")).to_be_visible()
    suggested = _suggested_radio(page)
    expect(suggested).to_be_checked()
    expect(page.locator('input[name="slot"]:checked')).to_have_count(1)
