"""In the browser: a course short after the patient cancelled a session is marked "Course short" on
the day board's blocks of its live sessions, and not on the cancelled session, which the board
still draws, set aside (set up as in test_browser.py, on the clock)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from scheduling.models import Appointment
from scheduling.services import appointment_cancel
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    live_clinic,
    log_in,
    patient_with_plan,
)

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]


def test_course_short_marks_the_live_sessions_not_the_cancelled_one(page: Page, live_server, live_clinic):  # noqa: F811
    plan = patient_with_plan(live_clinic, "grace", "Grace", "Whitfield", book=True)
    sessions = list(Appointment.objects.filter(plan=plan).order_by("starts_at"))
    appointment_cancel(
        appointment=sessions[2], actor=plan.patient.user, reason="Away", now=timezone.now(), by_patient=True
    )
    plan.refresh_from_db()
    assert plan.needs_attention
    zone = live_clinic.site.zone
    log_in(page, live_server.url, "desk_rita")

    page.goto(
        f"{live_server.url}/board/?site={live_clinic.site.pk}&day={sessions[2].starts_at.astimezone(zone):%Y-%m-%d}"
    )
    cancelled = page.get_by_test_id("session").filter(has_text="Grace Whitfield")
    expect(cancelled).to_have_count(1)
    expect(cancelled).to_contain_text("Cancelled")
    expect(cancelled.get_by_test_id("course-short")).to_have_count(0)

    page.goto(
        f"{live_server.url}/board/?site={live_clinic.site.pk}&day={sessions[3].starts_at.astimezone(zone):%Y-%m-%d}"
    )
    live = page.get_by_test_id("session").filter(has_text="Grace Whitfield")
    expect(live).to_have_count(1)
    expect(live.get_by_test_id("course-short")).to_be_visible()
    expect(live.get_by_role("link", name="Book a make-up session for Grace Whitfield")).to_be_visible()
