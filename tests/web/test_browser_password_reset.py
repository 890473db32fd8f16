"""A patient who forgot the password resets it in a real browser (Debian's Chromium through
Playwright): first, signed in, the patient confirms the chart's contact email from the portal (the
reset reaches a login with no email of its own only there); then the log-in page's link, the email
form, the mailed link, the new password twice, then the log-in with it lands on the portal; axe-core
finds no violation on the confirmation and reset pages."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, PatientFactory, SiteFactory, UserFactory
from tests.web.test_browser import browser_context_args, browser_type_launch_args  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "violet-harbour-lantern-42"


def _violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{page.url}: {rule['id']} {node['target']}"
        for rule in results.response["violations"]
        for node in rule["nodes"]
    ]


@pytest.mark.clock(zone="America/New_York", calendar=False)  # no date in what it checks
def test_a_patient_resets_a_forgotten_password_and_signs_in_with_the_new_one(page: Page, live_server, settings):
    settings.SITE_URL = live_server.url
    site = SiteFactory(time_zone="America/New_York")
    user = UserFactory(username="grace", email="", first_name="Grace")
    PatientFactory(user=user, first_name="Grace", email="grace@home.example", home_site=site)
    problems: list[str] = []

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Send me a confirmation link").click()
    expect(page.get_by_text("We are sending a link to grace@home.example")).to_be_visible()
    confirm = re.search(r"https?://\S+/me/email/confirm/\S+/", mail.outbox[0].body).group(0)
    page.goto(confirm)
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    problems += _violations(page)
    page.get_by_role("button", name="Yes, this is my address").click()
    expect(page.get_by_text("You confirmed this address on")).to_be_visible()
    problems += _violations(page)
    page.context.clear_cookies()
    mail.outbox.clear()

    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    problems += _violations(page)
    page.get_by_label("Email address").fill("Grace@Home.example")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    problems += _violations(page)

    assert [message.to for message in mail.outbox] == [["grace@home.example"]]
    link = re.search(r"https?://\S+/account/password/reset/\S+/", mail.outbox[0].body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    problems += _violations(page)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Your password is set")).to_be_visible()
    problems += _violations(page)

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert problems == []

    page.context.clear_cookies()
    page.goto(link)
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
