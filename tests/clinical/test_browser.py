"""Real browser: a nurse records pre-infusion vitals that hold the start; a prescriber clears it.

Same pattern as tests/web/test_browser.py: Debian's Chromium via Playwright against the
live server, which runs on real time, so the session is built around timezone.now()."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from clinic.models import Role
from clinical import services as clinical
from clinical.models import ControlledSubstanceEntry
from scheduling.models import AppointmentStatus
from tests.clinical_helpers import record_administration
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory, SiteFactory, StaffFactory, UserFactory
from tests.web.test_browser import browser_context_args, browser_type_launch_args, log_in, shoot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]


def test_nurse_records_high_vitals_that_hold_the_start_and_a_prescriber_clears_it(page: Page, live_server):
    site = SiteFactory(name="Riverside Infusion Center", time_zone="America/New_York")
    chair = ChairFactory(site=site, name="Chair 1")
    nurse = StaffFactory(
        role=Role.NURSE, sites=[site], user=UserFactory(username="nurse_nora", first_name="Nora", last_name="Quinn")
    )
    StaffFactory(
        role=Role.PRESCRIBER, sites=[site], user=UserFactory(username="dr_hale", first_name="Maya", last_name="Hale")
    )
    patient = PatientFactory(first_name="Grace", last_name="Whitfield", home_site=site, escort_name="Chris Whitfield")
    now = timezone.now()
    session = AppointmentFactory(
        patient=patient,
        chair=chair,
        nurse=nurse,
        starts_at=now - dt.timedelta(minutes=10),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=now - dt.timedelta(minutes=15),
    )
    url = f"{live_server.url}/sessions/{session.pk}/record/"

    log_in(page, live_server.url, "nurse_nora")
    day = session.starts_at.astimezone(site.zone).date()
    page.goto(f"{live_server.url}/board/?site={site.pk}&day={day.isoformat()}")
    page.get_by_role("link", name="Session record for Grace Whitfield").click()
    expect(page.get_by_role("heading", name="Session record: Grace Whitfield")).to_be_visible()
    expect(page.get_by_test_id("start-held")).to_contain_text("Record pre-infusion vitals first")

    page.get_by_label("Phase").select_option("pre")
    page.get_by_label("Systolic (mmHg)").fill("172")
    page.get_by_label("Diastolic (mmHg)").fill("96")
    page.get_by_label("Heart rate (bpm)").fill("84")
    page.get_by_label("SpO2 (%)").fill("97")
    page.get_by_role("button", name="Record vitals").click()
    expect(page.get_by_text("Vitals recorded.")).to_be_visible()
    held = page.get_by_test_id("start-held")
    expect(held).to_contain_text("Blood pressure 172/96 is above the clinic's limit of 160 systolic")
    expect(page.get_by_role("button", name="Clear to start")).to_have_count(0)
    page.get_by_role("button", name="Start session").click()
    expect(page.get_by_role("alert")).to_contain_text("Start held: Blood pressure 172/96")
    shoot(page, "clinical-01-nurse-start-held")
    session.refresh_from_db()
    assert session.status == AppointmentStatus.CHECKED_IN

    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server.url, "dr_hale")
    page.goto(url)
    page.get_by_label("Reason for clearing").fill("Known white-coat hypertension; 150/90 at home this week")
    page.get_by_role("button", name="Clear to start").click()
    expect(page.get_by_text("Cleared to start.")).to_be_visible()
    expect(page.get_by_test_id("clearance")).to_contain_text("Maya Hale")
    expect(page.get_by_test_id("clearance")).to_contain_text("white-coat")
    page.get_by_role("button", name="Start session").click()
    expect(page.get_by_text("The session has started.")).to_be_visible()
    expect(page.get_by_test_id("session-status")).to_have_text("In chair")
    shoot(page, "clinical-02-prescriber-cleared-and-started")
    session.refresh_from_db()
    assert session.status == AppointmentStatus.IN_CHAIR
    assert session.start_clearances.get().prescriber.user.username == "dr_hale"


def test_nurse_corrects_a_controlled_substance_log_line_from_the_log(page: Page, live_server):
    """The log's Correct link opens the line's values; a total that does not match is refused beside
    it; the correction comes back to the log as a new line, the old one struck through."""
    site = SiteFactory(name="Riverside Infusion Center", time_zone="America/New_York")
    chair = ChairFactory(site=site, name="Chair 1")
    nurse = StaffFactory(
        role=Role.NURSE, sites=[site], user=UserFactory(username="nurse_nora", first_name="Nora", last_name="Quinn")
    )
    patient = PatientFactory(first_name="Grace", last_name="Whitfield", home_site=site, escort_name="Chris Whitfield")
    now = timezone.now()
    session = AppointmentFactory(
        patient=patient,
        chair=chair,
        nurse=nurse,
        starts_at=now - dt.timedelta(minutes=60),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=now - dt.timedelta(minutes=70),
    )
    # 0.5 mg/kg × 70 kg = 35 mg IV, lot LOT-TEST-1, ended ten minutes ago.
    entry = record_administration(session, nurse.user, start=now - dt.timedelta(minutes=55)).log_entries.get()

    log_in(page, live_server.url, "nurse_nora")
    page.goto(f"{live_server.url}/controlled-substances/")
    page.get_by_role("link", name=f"Correct entry #{entry.pk}").click()
    expect(page.get_by_role("heading", name=f"Correct log entry #{entry.pk}")).to_be_visible()
    expect(page.get_by_label("Lot number")).to_have_value("LOT-TEST-1")
    expect(page.get_by_label("Weight (kg)")).to_have_value("70.0")
    page.get_by_label("Weight (kg)").fill("80.0")
    page.get_by_label("Reason for the correction").fill("Weight re-read from the scale's printout")
    page.get_by_role("button", name="Record correction").click()
    expect(page.get_by_text("does not match 0.500 mg/kg × 80.0 kg = 40.0 mg")).to_be_visible()
    shoot(page, "clinical-03-nurse-correction-refused-total")
    page.get_by_label("Total given (mg)").fill("40.00")
    page.get_by_role("button", name="Record correction").click()
    correction = ControlledSubstanceEntry.objects.get(corrects=entry)
    expect(page.get_by_text(f"Correction recorded as entry #{correction.pk}")).to_be_visible()
    expect(page.get_by_test_id("cs-corrected-by")).to_have_text(f"corrected by #{correction.pk}")
    expect(page.get_by_test_id("cs-entry").first).to_contain_text("40.00 mg")  # newest first
    expect(page.get_by_role("link", name=f"Correct entry #{entry.pk}")).to_have_count(0)
    expect(page.get_by_role("link", name=f"Correct entry #{correction.pk}")).to_be_visible()
    shoot(page, "clinical-04-nurse-corrected-a-log-line")


def test_a_clinic_administrator_reads_the_log_with_each_reason_marked_not_shown(page: Page, live_server):
    """A line's reason is clinical text (FIELD_READERS["cs_entry"]): the administrator auditing the
    register sees the line, what it corrects and that a reason was recorded, not the words."""
    site = SiteFactory(name="Riverside Infusion Center", time_zone="America/New_York")
    chair = ChairFactory(site=site, name="Chair 1")
    nurse = StaffFactory(
        role=Role.NURSE, sites=[site], user=UserFactory(username="nurse_nora", first_name="Nora", last_name="Quinn")
    )
    StaffFactory(
        role=Role.CLINIC_ADMIN, sites=[site], user=UserFactory(username="admin_ada", first_name="Ada", last_name="Park")
    )
    patient = PatientFactory(first_name="Grace", last_name="Whitfield", home_site=site, escort_name="Chris Whitfield")
    now = timezone.now()
    session = AppointmentFactory(
        patient=patient,
        chair=chair,
        nurse=nurse,
        starts_at=now - dt.timedelta(minutes=60),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=now - dt.timedelta(minutes=70),
    )
    entry = record_administration(session, nurse.user, start=now - dt.timedelta(minutes=55)).log_entries.get()
    reason = "Stopped early: BP 182/110, severe dissociation"
    correction = clinical.controlled_substance_correct(
        entry=entry, lot_number="LOT-TEST-2", reason=reason, actor=nurse.user, now=now
    )

    log_in(page, live_server.url, "admin_ada")
    page.goto(f"{live_server.url}/controlled-substances/")
    newest = page.get_by_test_id("cs-entry").first
    expect(newest).to_contain_text(f"corrects #{entry.pk}")
    expect(newest.get_by_test_id("cs-reason-withheld")).to_have_text("reason recorded (clinicians only)")
    expect(page.get_by_test_id("cs-corrected-by")).to_have_text(f"corrected by #{correction.pk}")
    expect(page.get_by_text(reason)).to_have_count(0)
    expect(page.get_by_role("link", name=f"Correct entry #{correction.pk}")).to_have_count(0)
    shoot(page, "clinical-05-administrator-log-reason-withheld")
