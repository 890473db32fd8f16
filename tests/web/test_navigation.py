"""Each role's pages offer only what that role may do: every link on every page a persona can
open answers that persona with something other than 403, and every form posts to a view that
lets the persona's role in (checked against the view's own role table, without posting)."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.urls import resolve, reverse

from scheduling.models import AppointmentStatus
from tests.clinical_helpers import record_session_for_completion
from tests.factories import AppointmentFactory
from tests.web.conftest import NOW, Web, login

pytestmark = pytest.mark.django_db

PERSONAS = ["desk", "nurse", "prescriber", "admin"]


class Targets(HTMLParser):
    """The links (GET) and forms (method, action) of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        elif tag == "form":
            self.forms.append(((values.get("method") or "get").lower(), values.get("action") or ""))


def start_pages(web: Web, in_chair_pk: int) -> list[str]:
    return [
        reverse("home"),
        reverse("web:board") + "?day=2026-03-02",
        reverse("web:board"),
        reverse("web:week") + "?day=2026-03-02",
        reverse("web:patient-search") + "?q=Archer",
        reverse("web:patient", args=[web.patient_a.pk]),
        reverse("web:book-course", args=[web.plan_a.pk]),
        reverse("clinical:session", args=[in_chair_pk]),
        reverse("clinical:cs-log"),
    ]


def _local(base: str, target: str) -> str | None:
    url = urljoin(base, target)
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or target.startswith("#") or target.startswith("data:"):
        return None
    if parts.path.startswith("/admin/"):
        return None  # the Django admin has its own permission system
    return url


@pytest.fixture
def in_chair(web: Web):
    """A checked-in session today, so the board shows the clinicians' session-record link."""
    appointment = AppointmentFactory(
        patient=web.patient_b,
        chair=web.clinic.chairs[2],
        nurse=web.nurse,
        starts_at=NOW - dt.timedelta(minutes=30),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=NOW - dt.timedelta(minutes=40),
    )
    record_session_for_completion(appointment, web.nurse.user)
    return appointment


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_page_links_or_posts_to_a_page_the_role_may_not_use(client, web, in_chair, persona):
    staff = getattr(web, persona)
    login(client, staff.user)
    opened, links, posts = 0, set(), set()
    for page in start_pages(web, in_chair.pk):
        response = client.get(page)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        opened += 1
        targets = Targets()
        targets.feed(response.content.decode())
        links |= {url for href in targets.links if (url := _local(page, href))}
        for method, action in targets.forms:
            url = _local(page, action)
            if url is not None:
                (posts if method == "post" else links).add(url)
    assert opened >= 3, "the persona should open at least the board, the week and home"
    for url in sorted(links):
        assert client.get(url).status_code != 403, (persona, url)
    for url in sorted(posts):
        view = resolve(urlsplit(url).path).func
        if url == reverse("logout"):
            continue
        assert staff.role in view.staff_roles, (persona, url)


def test_the_clinic_administrator_sees_no_patient_search_and_no_session_buttons(client, web):
    login(client, web.admin.user)
    board = client.get(reverse("web:board") + "?day=2026-03-02")
    assert board.status_code == 200
    assert reverse("web:patient-search").encode() not in board.content
    assert b"Check in" not in board.content
    assert reverse("web:patient", args=[web.patient_a.pk]).encode() not in board.content
    assert client.get(reverse("web:patient-search") + "?q=Archer").status_code == 403


def test_clinicians_and_the_administrator_find_the_controlled_substance_log_in_the_navigation(client, web):
    for persona, shown in [("nurse", True), ("prescriber", True), ("admin", True), ("desk", False)]:
        login(client, getattr(web, persona).user)
        board = client.get(reverse("web:board"))
        assert (reverse("clinical:cs-log").encode() in board.content) == shown, persona
