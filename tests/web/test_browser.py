"""Real-browser journeys: Debian's Chromium (its headless shell) driven by Playwright
against the live server. The server's clock runs (from the instant each test's clock is set
to), so the data here is built from that instant (`clock_now`, `LiveClinic.now`), not from the
frozen clinic dates the other tests use.

Each journey saves screenshots of the pages it visits to $SCREENSHOT_DIR
(default test-artifacts/screenshots/)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from icalendar import Calendar
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from clinic.models import Role, Site, StaffMember
from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus, PlanStatus, TreatmentPlan
from scheduling.services import course_book, plan_create
from tests import clock
from tests.factories import (
    PASSWORD,
    ChairFactory,
    PatientFactory,
    ProtocolFactory,
    SiteFactory,
    StaffFactory,
    UserFactory,
)
from tests.scheduling.conftest import add_shifts

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium-headless-shell")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", "test-artifacts/screenshots/"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. Install Debian's build with: "
            "apt-get update && apt-get install -y chromium-headless-shell",
            pytrace=False,
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": DESKTOP, "accept_downloads": True}


def shoot(page: Page, name: str, *, first_screen_too: bool = False) -> None:
    """Save the page to SCREENSHOTS, at the first instant the test runs at (tests/clock.py): the files
    are named by the page, not the instant, so each other instant would only write them again."""
    if not clock.at_first_instant:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _screenshot(page, SCREENSHOTS / f"{name}.png", full_page=True)
    if first_screen_too:
        _screenshot(page, SCREENSHOTS / f"{name}-first-screen.png", full_page=False)


def _screenshot(page: Page, path: Path, *, full_page: bool) -> None:
    """A picture for the docs, not an assertion: Chromium now and then answers "Unable to capture
    screenshot" on a loaded machine, so it is tried once more after a moment before the test fails."""
    try:
        page.screenshot(path=str(path), full_page=full_page)
    except PlaywrightError as error:
        if "Unable to capture screenshot" not in str(error):
            raise
        page.wait_for_timeout(500)
        page.screenshot(path=str(path), full_page=full_page)


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


@dataclass
class LiveClinic:
    site: Site
    desk: StaffMember
    prescriber: StaffMember
    # The instant the test's clock was set to (`clock_now`): the data is built from it.
    now: dt.datetime


def first_workday_after(day: dt.date, days: int) -> dt.date:
    day += dt.timedelta(days=days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


@pytest.fixture
def live_clinic(transactional_db, clock_now) -> LiveClinic:
    """A site open Monday to Friday whose nurses work every day of the next six weeks from the
    instant the test's clock is set to (a test that uses it must be marked `clock`)."""
    site = SiteFactory(
        name="Riverside Infusion Center",
        time_zone="America/New_York",
        address="240 Riverside Drive\nSpringfield, IL 62701",
        arrival_notes="Free parking behind the building; use the blue door.",
    )
    for number in (1, 2, 3):
        ChairFactory(site=site, name=f"Chair {number}")
    today = clock_now.astimezone(site.zone).date()
    for first, last in (("Nora", "Quinn"), ("Sam", "Ortiz")):
        nurse = StaffFactory(role=Role.NURSE, sites=[site], user=UserFactory(first_name=first, last_name=last))
        add_shifts(nurse, site, today - dt.timedelta(days=1), 43)
    prescriber = StaffFactory(
        role=Role.PRESCRIBER, sites=[site], user=UserFactory(username="dr_hale", first_name="Maya", last_name="Hale")
    )
    desk = StaffFactory(
        role=Role.FRONT_DESK, sites=[site], user=UserFactory(username="desk_rita", first_name="Rita", last_name="Moss")
    )
    ProtocolFactory()
    return LiveClinic(site=site, desk=desk, prescriber=prescriber, now=clock_now)


def patient_with_plan(clinic: LiveClinic, username: str, first: str, last: str, *, book: bool) -> TreatmentPlan:
    patient = PatientFactory(
        user=UserFactory(username=username, first_name=first, last_name=last),
        first_name=first,
        last_name=last,
        home_site=clinic.site,
        escort_name="Chris " + last,
    )
    now = clinic.now  # the test's set instant (live_clinic is built only on one)
    start = first_workday_after(now.astimezone(clinic.site.zone).date(), 3)
    plan = plan_create(
        patient=patient,
        protocol=ProtocolFactory(),
        prescriber=clinic.prescriber,
        start_date=start,
        actor=clinic.prescriber.user,
    )
    if book:
        course_book(plan=plan, actor=clinic.desk.user, now=now, start_date=start)
    return plan


def test_front_desk_books_a_whole_induction_course_and_sees_it_on_the_day_board(page: Page, live_server, live_clinic):
    plan = patient_with_plan(live_clinic, "grace", "Grace", "Whitfield", book=False)
    log_in(page, live_server.url, "desk_rita")
    shoot(page, "01-front-desk-home-board")

    page.get_by_role("link", name="Patients").click()
    page.get_by_label("Name, email or phone").fill("whitf")
    page.get_by_role("button", name="Search").click()
    shoot(page, "02-patient-search")
    page.get_by_role("link", name="Grace Whitfield").click()
    expect(page.get_by_role("heading", name="Grace Whitfield", level=1)).to_be_visible()
    # The front desk does not see screening.
    expect(page.get_by_role("heading", name="Screening")).to_have_count(0)
    page.get_by_role("link", name="Book induction course").click()

    page.get_by_role("button", name="Propose sessions").click()
    rows = page.get_by_test_id("proposed-session")
    expect(rows).to_have_count(6)
    shoot(page, "03-book-course-proposal")
    page.get_by_role("button", name="Book all 6 sessions").click()

    expect(page.get_by_text("Booked 6 sessions for Grace Whitfield.")).to_be_visible()
    card = page.get_by_test_id("session").filter(has_text="Grace Whitfield")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Session 1 of 6")
    expect(card).to_contain_text("Booked")
    shoot(page, "04-day-board-after-booking")
    assert Appointment.objects.filter(plan=plan, status=AppointmentStatus.BOOKED).count() == 6

    page.get_by_role("link", name="Week").click()
    expect(page.get_by_text("Grace Whitfield").first).to_be_visible()
    shoot(page, "05-week")


def test_clinician_pauses_and_resumes_a_plan_with_reasons_and_sees_the_history(page: Page, live_server, live_clinic):
    plan = patient_with_plan(live_clinic, "omar", "Omar", "Reyes", book=True)
    log_in(page, live_server.url, "dr_hale")
    page.goto(f"{live_server.url}/patients/{plan.patient_id}/")
    expect(page.get_by_role("heading", name="Screening")).to_be_visible()
    expect(page.get_by_text("Eligible: no contraindication on file.")).to_be_visible()

    page.get_by_label("Pause the plan").check()
    page.get_by_label("Reason", exact=True).fill("Travelling abroad for two weeks")
    page.get_by_role("button", name="Apply change").click()
    expect(page.get_by_text("The plan is paused")).to_be_visible()
    history = page.get_by_test_id("history-row")
    expect(history.first).to_contain_text("Travelling abroad for two weeks")
    expect(history.first).to_contain_text("Maya Hale")

    # Without a reason the change is refused, in words, and nothing happens.
    page.get_by_label("Resume the plan").check()
    page.get_by_role("button", name="Apply change").click()
    expect(page.get_by_text("Give a reason for this change")).to_be_visible()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAUSED

    page.get_by_label("Resume the plan").check()
    page.get_by_label("Reason", exact=True).fill("Back home, feeling ready")
    page.get_by_role("button", name="Apply change").click()
    expect(page.get_by_text("The plan is resumed")).to_be_visible()
    expect(page.get_by_test_id("history-row").filter(has_text="Back home, feeling ready")).to_have_count(1)
    expect(page.get_by_test_id("history-row").filter(has_text="Travelling abroad")).to_have_count(1)
    shoot(page, "06-clinician-chart-after-pause-resume")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE


def test_patient_on_a_phone_sees_only_own_sessions_confirms_one_and_downloads_its_ics(
    browser, live_server, live_clinic
):
    mine = patient_with_plan(live_clinic, "alice", "Alice", "Archer", book=True)
    patient_with_plan(live_clinic, "bob", "Bob", "Baker", book=True)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, accept_downloads=True)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice")
        cards = page.get_by_test_id("portal-session")
        expect(cards).to_have_count(6)
        expect(page.get_by_text("Bob")).to_have_count(0)
        expect(page.get_by_text("Baker")).to_have_count(0)
        expect(cards.first).to_contain_text("240 Riverside Drive")
        expect(cards.first).to_contain_text("Arrange for someone to drive you home")
        shoot(page, "07-patient-portal-phone", first_screen_too=True)

        cards.first.get_by_role("button", name="I'll be there").click()
        expect(page.get_by_text("Thank you: your session is confirmed.")).to_be_visible()
        expect(page.get_by_test_id("portal-session").first).to_contain_text("Confirmed")
        shoot(page, "08-patient-portal-confirmed", first_screen_too=True)
        first = Appointment.objects.filter(plan=mine).order_by("starts_at").first()
        assert first.status == AppointmentStatus.CONFIRMED

        with page.expect_download() as download_info:
            page.get_by_test_id("portal-session").first.get_by_role("link", name="Add to my calendar").click()
        download = download_info.value
        calendar = Calendar.from_ical(Path(download.path()).read_bytes())
        events = list(calendar.walk("VEVENT"))
        assert len(events) == 1
        assert events[0].decoded("dtstart") == first.starts_at
        assert "240 Riverside Drive" in str(events[0]["location"])
    finally:
        context.close()


def test_patient_guessing_another_patients_urls_gets_404(page: Page, live_server, live_clinic):
    patient_with_plan(live_clinic, "alice", "Alice", "Archer", book=True)
    theirs = patient_with_plan(live_clinic, "bob", "Bob", "Baker", book=True)
    other = Appointment.objects.filter(plan=theirs).first()
    log_in(page, live_server.url, "alice")
    response = page.goto(f"{live_server.url}/me/sessions/{other.pk}/session.ics")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    assert "Baker" not in page.content()
    shoot(page, "09-patient-guess-404")
    response = page.goto(f"{live_server.url}/patients/{theirs.patient_id}/")
    assert response.status == 403
    assert Patient.objects.filter(pk=theirs.patient_id).exists()
