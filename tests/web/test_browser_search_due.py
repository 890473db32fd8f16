"""The patient search's "Due for a session" choice in a real browser: choosing it lists, in place
(htmx), the patients of the desk's site whose maintenance session is overdue or due soon with
nothing booked, with no name typed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from clinic.models import Chair
from scheduling.models import AppointmentStatus, Phase, PlanStatus, TreatmentPlan
from tests.factories import AppointmentFactory
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    live_clinic,
    log_in,
    patient_with_plan,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]


def _in_maintenance_since(plan: TreatmentPlan, days_ago: int) -> None:
    """The plan active in maintenance, its last session given `days_ago` days back, none booked ahead."""
    given = timezone.now() - dt.timedelta(days=days_ago)
    TreatmentPlan.objects.filter(pk=plan.pk).update(
        status=PlanStatus.ACTIVE,
        phase=Phase.MAINTENANCE,
        start_date=given.astimezone(plan.site.zone).date() - dt.timedelta(days=30),
    )
    AppointmentFactory(
        patient=plan.patient,
        plan=plan,
        chair=Chair.objects.filter(site=plan.site).first(),
        starts_at=given,
        status=AppointmentStatus.COMPLETED,
    )


def test_choosing_due_for_a_session_lists_the_overdue_patient_in_place(page: Page, live_server, live_clinic):  # noqa: F811
    overdue = patient_with_plan(live_clinic, "grace", "Grace", "Whitfield", book=False)
    _in_maintenance_since(overdue, overdue.maintenance_interval_days + 3)
    patient_with_plan(live_clinic, "omar", "Omar", "Reyes", book=False)  # a draft plan: never due
    log_in(page, live_server.url, "desk_rita")
    page.goto(f"{live_server.url}/patients/")
    page.get_by_label("Due for a session").select_option(label="Due within a week, or overdue")
    results = page.get_by_test_id("search-result")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("Grace Whitfield")
    expect(page.get_by_test_id("maintenance-due")).to_contain_text("overdue since")
    assert "due=" not in page.url, "the results came in place, not by submitting the form"
    shoot(page, "48-patient-search-due")
