"""Real browser: a nurse who skipped the "in the chair" step records an infusion that lasted only
minutes (the page's own times, a few minutes after the vitals). The page refuses it on the end time,
naming the protocol's minutes, and asks for the reason beside the error; with the reason it is
recorded, and the session is in the chair.

Same pattern as tests/clinical/test_browser.py: the live server runs on real time, so the session
is built around timezone.now()."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from clinic.models import Role
from clinical.models import ControlledSubstanceEntry
from scheduling.models import AppointmentStatus
from tests.clinical_helpers import record_pre_vitals
from tests.factories import (
    AppointmentFactory,
    ChairFactory,
    PatientFactory,
    PlanFactory,
    ProtocolFactory,
    SiteFactory,
    StaffFactory,
    UserFactory,
)
from tests.web.test_browser import browser_context_args, browser_type_launch_args, log_in, shoot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]


def test_a_short_infusion_is_refused_then_recorded_with_the_reason_and_the_session_is_in_the_chair(
    page: Page, live_server
):
    site = SiteFactory(name="Riverside Infusion Center", time_zone="America/New_York")
    chair = ChairFactory(site=site, name="Chair 1")
    nurse = StaffFactory(
        role=Role.NURSE, sites=[site], user=UserFactory(username="nurse_nora", first_name="Nora", last_name="Quinn")
    )
    patient = PatientFactory(first_name="Grace", last_name="Whitfield", home_site=site, escort_name="Chris Whitfield")
    plan = PlanFactory(patient=patient, protocol=ProtocolFactory(), site=site)  # a 40-minute IV infusion
    now = timezone.now()
    session = AppointmentFactory(
        patient=patient,
        plan=plan,
        sequence=1,
        chair=chair,
        nurse=nurse,
        starts_at=now - dt.timedelta(minutes=10),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=now - dt.timedelta(minutes=15),
    )
    record_pre_vitals(session, nurse.user, now=now - dt.timedelta(minutes=5))

    log_in(page, live_server.url, "nurse_nora")
    page.goto(f"{live_server.url}/sessions/{session.pk}/record/")
    expect(page.get_by_text("within 5 %")).to_be_visible()  # the total's tolerance, in its help
    expect(page.get_by_label("Reason the infusion was short")).to_have_count(0)
    page.get_by_label("Dose (mg/kg)").fill("0.5")
    page.get_by_label("Weight (kg)").fill("70")
    page.get_by_label("Total given (mg)").fill("35")
    page.get_by_label("Lot number").fill("KX-1")
    page.get_by_role("button", name="Record administration").click()
    expect(page.locator("#id_ended_at-error")).to_contain_text("under half the protocol's 40 minutes")
    shoot(page, "clinical-short-infusion-refused")
    reason = page.get_by_label("Reason the infusion was short")
    expect(reason).to_be_visible()
    reason.fill("stopped early: dissociation")
    page.get_by_role("button", name="Record administration").click()
    expect(page.get_by_text("Administration recorded in the controlled-substance log.")).to_be_visible()
    expect(page.get_by_test_id("session-status")).to_have_text("In chair")
    session.refresh_from_db()
    assert session.status == AppointmentStatus.IN_CHAIR
    assert "stopped early: dissociation" in ControlledSubstanceEntry.objects.get().reason
