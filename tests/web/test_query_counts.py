"""Pages that list many things run a fixed number of queries, whatever the
number of rows: the counts below hold with two booked courses and with eight."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scheduling.models import Appointment
from scheduling.services import course_book
from tests.factories import AppointmentFactory, PatientFactory, ProtocolFactory
from tests.web.conftest import NOW, START, login

pytestmark = pytest.mark.django_db

# Session, user and role lookups are part of every page; the rest is the page's own.
BOARD_QUERIES = (
    13  # + the closures, opening hours, nurse shifts, shortest session, the free-slot snapshot and the day template
)
WEEK_QUERIES = 7  # + the closures of the week
SEARCH_QUERIES = 6  # + the active maintenance plans, for when a patient with nothing booked is due
CHART_QUERIES = 14
PORTAL_QUERIES = 7
FEED_QUERIES = 3  # the patient, the sessions, and the access-log row of this anonymous read


def _more_courses(web, count: int) -> None:
    for _ in range(count):
        plan = web.clinic.plan(
            patient=PatientFactory(home_site=web.clinic.site, last_name="Archer"), protocol=ProtocolFactory()
        )
        course_book(plan=plan, actor=web.desk.user, now=NOW, start_date=START)
    assert Appointment.objects.count() == 6 * (count + 2)


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize(
    ("page_name", "limit"),
    [("board", BOARD_QUERIES), ("week", WEEK_QUERIES), ("search", SEARCH_QUERIES), ("chart", CHART_QUERIES)],
)
def test_staff_pages_keep_a_fixed_number_of_queries(client, web, page_name, limit, django_assert_max_num_queries):
    url = {
        "board": reverse("web:board") + "?day=2026-03-02",
        "week": reverse("web:week") + "?day=2026-03-02",
        "search": reverse("web:patient-search") + "?q=Archer",
        "chart": reverse("web:patient", args=[web.patient_a.pk]),
    }[page_name]
    user = web.prescriber.user if page_name == "chart" else web.desk.user
    login(client, user)
    _count(client, url)  # a hot read's first use in the process prepares its statement (PREPARE, then EXECUTE)
    few = _count(client, url)
    _more_courses(web, 6)
    with django_assert_max_num_queries(limit):
        client.get(url)
    many = _count(client, url)
    assert many == few


def test_portal_and_calendar_feed_keep_a_fixed_number_of_queries(client, web, django_assert_max_num_queries):
    login(client, web.patient_a.user)
    with django_assert_max_num_queries(PORTAL_QUERIES):
        response = client.get(reverse("home"))
    assert len(response.context["upcoming"]) == 6
    # Five more single sessions of the same patient cost no extra query.
    for week in range(5):
        AppointmentFactory(
            patient=web.patient_a,
            chair=web.clinic.chairs[2],
            starts_at=dt.datetime(2026, 4, 6, 15, tzinfo=dt.UTC) + dt.timedelta(weeks=week),
        )
    with django_assert_max_num_queries(PORTAL_QUERIES):
        response = client.get(reverse("home"))
    assert len(response.context["upcoming"]) == 11
    client.logout()
    with django_assert_max_num_queries(FEED_QUERIES):
        client.get(reverse("web:calendar-feed", args=[web.patient_a.calendar_token]))
