"""The day board, week and patient search in a real browser (Debian's Chromium through
Playwright): the grid places sessions in their chair rows at their times, a free gap books a
session, the board refreshes itself (htmx), the search answers as you type, and axe-core finds
no serious or critical accessibility violation on the main pages. Screenshots go to
$SCREENSHOT_DIR (default test-artifacts/screenshots/)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from clinic.models import Closure
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import appointment_book
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    PHONE,
    browser_context_args,
    browser_type_launch_args,
    first_workday_after,
    live_clinic,
    log_in,
    patient_with_plan,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]


def _board_url(base: str, clinic, day: dt.date) -> str:
    return f"{base}/board/?site={clinic.site.pk}&day={day.isoformat()}"


def test_the_grid_shows_each_session_in_its_chair_row_at_its_time(page: Page, live_server, live_clinic):  # noqa: F811
    plan = patient_with_plan(live_clinic, "grace", "Grace", "Whitfield", book=True)
    first = Appointment.objects.filter(plan=plan).order_by("starts_at").first()
    local = first.starts_at.astimezone(live_clinic.site.zone)
    log_in(page, live_server.url, "desk_rita")
    page.goto(_board_url(live_server.url, live_clinic, local.date()))

    row = page.locator(f'[data-testid="chair-row"][data-chair="{first.chair.name}"]')
    block = row.get_by_test_id("session").filter(has_text="Grace Whitfield")
    expect(block).to_have_count(1)
    expect(block).to_contain_text("Booked")
    # At a laptop's width the first line shows the status whole (a two-hour block gives its start only),
    # the longest of them too.
    Appointment.objects.filter(pk=first.pk).update(status=AppointmentStatus.COMPLETED)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    first_line = block.locator(".session__time")
    expect(first_line.locator(".badge")).to_have_text("Completed")
    assert first_line.evaluate("p => p.scrollWidth <= p.clientWidth"), "the status is cut off"
    for other in page.locator('[data-testid="chair-row"]').all():
        if other.get_attribute("data-chair") != first.chair.name:
            expect(other.get_by_text("Grace Whitfield")).to_have_count(0)

    # The block starts under its hour on the time axis and is as wide as the session is long.
    hour = page.locator(".lane--axis .hour", has_text=f"{local.hour:02d}:00")
    hour_box, block_box = hour.bounding_box(), block.bounding_box()
    per_minute = hour_box["width"] / 60
    expected_left = hour_box["x"] + local.minute * per_minute
    assert abs(block_box["x"] - expected_left) < 4
    minutes = (first.ends_at - first.starts_at).total_seconds() / 60
    assert abs(block_box["width"] - minutes * per_minute) < 6
    expect(page.get_by_test_id("shift-band")).to_have_count(2)
    expect(page.get_by_test_id("nurse-load")).to_contain_text("1/2")
    shoot(page, "40-board-grid", first_screen_too=True)

    page.get_by_role("link", name="Print day sheet").click()
    expect(page.get_by_test_id("sheet-row")).to_have_count(1)
    expect(page.get_by_test_id("sheet-row")).to_contain_text("Chris Whitfield")
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    shoot(page, "41-board-day-sheet-print")


def test_front_desk_clicks_a_free_gap_and_books_that_chair_and_time(page: Page, live_server, live_clinic, clock_now):  # noqa: F811
    plan = patient_with_plan(live_clinic, "omar", "Omar", "Reyes", book=False)
    day = first_workday_after(clock_now.astimezone(live_clinic.site.zone).date(), 5)
    log_in(page, live_server.url, "desk_rita")
    page.goto(_board_url(live_server.url, live_clinic, day))
    row = page.locator('[data-testid="chair-row"][data-chair="Chair 2"]')
    gap = row.get_by_test_id("free-gap").first
    expect(gap).to_contain_text("Free from 08:00")
    shoot(page, "42-board-free-gaps")
    gap.click()

    expect(page.get_by_test_id("free-time")).to_contain_text("08:00")
    page.get_by_label("Name, email or phone").fill("reyes")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Book the free time for Omar Reyes").click()

    expect(page.get_by_role("heading", name="Book one session")).to_be_visible()
    picked = page.locator('input[name="slot"]:checked')
    expect(picked).to_have_count(1)
    expect(page.get_by_role("radio", name=re.compile(r"^08:00–10:00, Chair 2 "))).to_be_checked()
    expect(page.get_by_label("Chair", exact=True)).to_have_value(str(_chair_pk(live_clinic, "Chair 2")))
    shoot(page, "43-booking-prefilled-from-gap")
    page.get_by_role("button", name="Book this session").click()
    expect(page.get_by_text("Booked an induction session for Omar Reyes")).to_be_visible()

    booked = Appointment.objects.get(plan=plan, status=AppointmentStatus.BOOKED)
    assert booked.chair.name == "Chair 2"
    assert booked.starts_at.astimezone(live_clinic.site.zone).replace(tzinfo=None) == dt.datetime.combine(
        day, dt.time(8)
    )
    expect(page.locator('[data-testid="chair-row"][data-chair="Chair 2"]').get_by_test_id("session")).to_contain_text(
        "Omar Reyes"
    )
    shoot(page, "44-board-after-gap-booking")


def test_a_day_of_12_chairs_and_40_sessions_fits_on_one_screen(browser: Browser, live_server, live_clinic, clock_now):  # noqa: F811
    site = live_clinic.site
    chairs = [*site.chairs.order_by("name"), *(ChairFactory(site=site, name=f"Chair {n}") for n in range(4, 13))]
    day = first_workday_after(clock_now.astimezone(site.zone).date(), 5)
    statuses = [AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED]
    for index in range(40):
        chair, slot = chairs[index % 12], index // 12
        starts_at = dt.datetime.combine(day, dt.time(8 + 2 * slot + index % 2), tzinfo=site.zone)
        AppointmentFactory(
            patient=PatientFactory(home_site=site, escort_name="Pat Driver"),
            chair=chair,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(minutes=90 + 15 * (index % 3)),
            status=statuses[index % 2],
        )
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        log_in(page, live_server.url, "desk_rita")
        page.goto(_board_url(live_server.url, live_clinic, day))
        expect(page.get_by_test_id("session")).to_have_count(40)
        expect(page.get_by_test_id("chair-row")).to_have_count(12)
        shoot(page, "48-board-12-chairs-40-sessions", first_screen_too=True)
        load = page.get_by_test_id("nurse-load").bounding_box()
        assert load["y"] + load["height"] <= 1080, "the whole grid, nurse load included, is on the first screen"
    finally:
        context.close()


def test_a_closed_day_shows_its_message_without_an_empty_grid_and_keeps_its_sessions_to_move(
    page: Page,
    live_server,
    live_clinic,  # noqa: F811
    clock_now,
):
    zone = live_clinic.site.zone
    today = clock_now.astimezone(zone).date()
    sunday = today + dt.timedelta(days=6 - today.weekday())
    log_in(page, live_server.url, "desk_rita")
    page.goto(_board_url(live_server.url, live_clinic, sunday))
    expect(page.get_by_test_id("not-open")).to_contain_text("does not open on Sundays")
    expect(page.get_by_test_id("no-sessions-closed")).to_be_visible()
    expect(page.get_by_test_id("chair-row")).to_have_count(0)
    expect(page.get_by_test_id("nurse-load")).to_have_count(0)
    shoot(page, "49-board-closed-day")

    # A course booked, then the site closed all day on its first session's day: that session stays on
    # the board, marked, with its Move button; no empty chair row, free gap or nurse load.
    plan = patient_with_plan(live_clinic, "ines", "Ines", "Varga", book=True)
    first = Appointment.objects.filter(plan=plan).order_by("starts_at").first()
    day = first.starts_at.astimezone(zone).date()
    Closure.objects.create(
        site=live_clinic.site,
        reason="Burst pipe",
        starts_at=dt.datetime.combine(day, dt.time(0), tzinfo=zone),
        ends_at=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone),
    )
    page.goto(_board_url(live_server.url, live_clinic, day))
    expect(page.get_by_test_id("closure")).to_contain_text("Closed all day: Burst pipe")
    expect(page.get_by_test_id("no-sessions-closed")).to_have_count(0)
    expect(page.get_by_test_id("chair-row")).to_have_count(1)
    block = page.get_by_test_id("session").filter(has_text="Ines Varga")
    expect(block).to_have_count(1)
    expect(block.get_by_test_id("no-longer-fits")).to_be_visible()
    expect(page.get_by_test_id("free-gap")).to_have_count(0)
    expect(page.get_by_test_id("nurse-load")).to_have_count(0)
    # Nor the nurses' shift bands, and the legend names only what is drawn.
    expect(page.get_by_test_id("shift-band")).to_have_count(0)
    expect(page.get_by_test_id("legend")).to_contain_text("still booked on this closed day")
    expect(page.get_by_test_id("legend")).not_to_contain_text("Nurse load")
    block.locator("summary", has_text="Actions for Ines Varga").click()
    expect(block.get_by_role("link", name=re.compile("Move")).first).to_be_visible()
    shoot(page, "49-board-closed-day-with-a-session")

    # The desk cancels it from the board: nothing is left to move, so no chair row; the day says it
    # has no sessions.
    panel = block.locator(".block__panel")
    panel.locator("details.cancel > summary").click()
    panel.get_by_label("Reason for cancelling").fill("Site closed")
    panel.get_by_role("button", name="Cancel only").click()
    expect(page.get_by_test_id("no-sessions-closed")).to_be_visible()
    expect(page.get_by_test_id("chair-row")).to_have_count(0)
    expect(page.get_by_test_id("closure")).to_contain_text("Closed all day: Burst pipe")
    assert Appointment.objects.get(pk=first.pk).status == AppointmentStatus.CANCELLED


def _chair_pk(clinic, name: str) -> int:
    return clinic.site.chairs.get(name=name).pk


def test_the_board_refreshes_itself_every_minute_without_reloading_the_page(
    page: Page,
    live_server,
    live_clinic,  # noqa: F811
    clock_now,
):
    plan = patient_with_plan(live_clinic, "nina", "Nina", "Park", book=False)
    day = first_workday_after(clock_now.astimezone(live_clinic.site.zone).date(), 5)
    refused = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.clock.install()
    log_in(page, live_server.url, "desk_rita")
    page.goto(_board_url(live_server.url, live_clinic, day))
    expect(page.get_by_text("Nina Park")).to_have_count(0)
    page.evaluate("window.boardMarker = 'same page'")
    with page.expect_response(lambda r: "/board/" in r.url and r.request.headers.get("hx-request") == "true"):
        appointment_book(
            patient=plan.patient,
            site=live_clinic.site,
            plan=plan,
            phase=plan.phase,
            starts_at=dt.datetime.combine(day, dt.time(10), tzinfo=live_clinic.site.zone),
            chair=live_clinic.site.chairs.get(name="Chair 3"),
            actor=live_clinic.desk.user,
            now=clock_now,
        )
        page.clock.run_for(61_000)
    expect(page.locator('[data-testid="chair-row"][data-chair="Chair 3"]')).to_contain_text("Nina Park")
    assert page.evaluate("window.boardMarker") == "same page"
    assert refused == [], "htmx runs under the CSP: no inline script or style"

    # With a block's actions open (a cancel reason half typed), the refresh waits.
    refreshes = []
    page.on("request", lambda request: refreshes.append(request.url) if request.headers.get("hx-request") else None)
    page.locator("summary", has_text="Actions for Nina Park").click()
    page.locator("summary", has_text="Cancel…").click()
    page.get_by_label("Reason for cancelling").fill("Half typed")
    page.clock.run_for(61_000)
    page.wait_for_timeout(300)
    assert refreshes == []
    expect(page.get_by_label("Reason for cancelling")).to_have_value("Half typed")
    page.locator("summary", has_text="Actions for Nina Park").click()  # closed again
    page.get_by_role("heading", name="Day board").click()
    with page.expect_response(lambda r: r.request.headers.get("x-background-refresh") == "1"):
        page.clock.run_for(61_000)


def test_patient_search_answers_as_the_desk_types(page: Page, live_server, live_clinic):  # noqa: F811
    patient_with_plan(live_clinic, "grace", "Grace", "Whitfield", book=False)
    patient_with_plan(live_clinic, "omar", "Omar", "Reyes", book=False)
    log_in(page, live_server.url, "desk_rita")
    page.goto(f"{live_server.url}/patients/")
    page.get_by_label("Name, email or phone").press_sequentially("whit", delay=50)
    results = page.get_by_test_id("search-result")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("Grace Whitfield")
    assert "q=" not in page.url, "the results came in place, not by submitting the form"
    page.get_by_label("Name, email or phone").fill("rey")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("Omar Reyes")
    shoot(page, "45-patient-search-as-you-type")


SERIOUS = {"serious", "critical"}


def _serious(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


def test_axe_finds_no_serious_violation_on_the_main_pages(browser: Browser, page: Page, live_server, live_clinic):  # noqa: F811
    plan = patient_with_plan(live_clinic, "alice", "Alice", "Archer", book=True)
    first = Appointment.objects.filter(plan=plan).order_by("starts_at").first()
    day = first.starts_at.astimezone(live_clinic.site.zone).date()
    found: dict[str, list[str]] = {}

    page.goto(f"{live_server.url}/login/")
    found["login"] = _serious(page)
    log_in(page, live_server.url, "desk_rita")
    pages = {
        "board": _board_url(live_server.url, live_clinic, day),
        "week": f"{live_server.url}/week/?site={live_clinic.site.pk}&day={day.isoformat()}",
        "patient search": f"{live_server.url}/patients/?q=arch",
        "chart": f"{live_server.url}/patients/{plan.patient_id}/",
    }
    for name, url in pages.items():
        page.goto(url)
        found[name] = _serious(page)
        shoot(page, f"46-axe-{name.replace(' ', '-')}")

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        log_in(phone, live_server.url, "alice")
        found["portal"] = _serious(phone)
        shoot(phone, "47-axe-portal")
    finally:
        context.close()
    assert found == {name: [] for name in found}
