"""The make-up page of a course booked at another site than the plan's: the missed session was at
the course's site and its make-up is booked there, so a desk who works only at that site opens the
page, sees the plan and books the make-up (and nothing else: maintenance goes to the plan's own
site). A desk who works at neither site gets a 404, as for a patient who does not exist.
Fixture of tests/web/test_alternative_site_zone.py: the plan's site in Denver closed from Mon
2 Mar 2026 for two months, the course booked at East Side in New York."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.models import Role, Site, StaffMember
from scheduling.models import Appointment, AppointmentStatus, Phase
from scheduling.services import appointment_cancel
from tests.factories import SiteFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import NOW
from tests.web.conftest import frozen, login  # noqa: F401  (fixture)
from tests.web.test_alternative_site_rebook import _course_at_east
from tests.web.test_alternative_site_zone import two_zones  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
# The make-up page with a week searched: the patient, the plan, the course's site, its free times.
MAKE_UP_PAGE_QUERIES = 19


@pytest.fixture
def missed(client, two_zones):  # noqa: F811
    """The course booked at East Side by the desk of both sites; its second session cancelled."""
    clinic, east, plan = two_zones
    course = _course_at_east(client, clinic, east, plan)
    appointment_cancel(appointment=course[1], actor=clinic.front_desk.user, reason="Unwell", now=NOW)
    client.logout()
    last_kept = course[-1].starts_at.astimezone(NEW_YORK).date()
    search = {
        "kind": "make-up",
        "first_day": last_kept.isoformat(),
        "last_day": (last_kept + dt.timedelta(days=6)).isoformat(),
    }
    return clinic, east, plan, search


def _desk(username: str, site: Site) -> StaffMember:
    return StaffFactory(role=Role.FRONT_DESK, sites=[site], user=UserFactory(username=username))


def test_a_desk_of_the_courses_site_only_opens_the_make_up_page_and_books_it_there(client, missed):
    _clinic, east, plan, search = missed
    login(client, _desk("east_desk", east).user)
    url = reverse("web:book-session", args=[plan.patient.pk])

    response = client.get(url, search)

    assert response.status_code == 200
    assert not response.context.get("no_plan")
    assert response.context["plan"] == plan
    assert response.context["site"] == east
    assert "(this course is at East Side)" in response.content.decode()
    # Only the make-up is offered: maintenance would go to the plan's own site, not this desk's.
    assert [value for value, _label in response.context["search"].fields["kind"].choices] == ["make-up"]
    free = [c for day in response.context["days"] for c in day["free"]]
    assert free, response.context.get("problem")
    booked = client.post(url, {**search, "slot": free[0]["value"]})
    assert booked.status_code == 302, booked.context and booked.context.get("problem")
    made_up = Appointment.objects.get(plan=plan, starts_at=free[0]["start"], status=AppointmentStatus.BOOKED)
    assert (made_up.site, made_up.phase) == (east, Phase.INDUCTION)


def test_a_desk_of_the_courses_site_only_cannot_book_maintenance_on_the_plan(client, missed):
    _clinic, east, plan, search = missed
    login(client, _desk("east_desk", east).user)
    url = reverse("web:book-session", args=[plan.patient.pk])

    response = client.get(url, {**search, "kind": "maintenance"})

    assert response.status_code == 400
    assert response.context["site"] == east
    assert "Choose which session to book" in response.content.decode()
    before = Appointment.objects.filter(plan=plan).count()
    assert client.post(url, {**search, "kind": "maintenance", "slot": "x"}).status_code == 400
    assert Appointment.objects.filter(plan=plan).count() == before


def test_a_desk_of_neither_site_gets_a_404_and_no_data(client, missed):
    _clinic, _east, plan, search = missed
    login(client, _desk("lake_desk", SiteFactory(name="Lakeside")).user)
    url = reverse("web:book-session", args=[plan.patient.pk])

    for response in (client.get(url), client.get(url, search), client.post(url, {**search, "slot": "x"})):
        assert response.status_code == 404
        page = response.content.decode()
        assert plan.patient.last_name not in page
        assert "East Side" not in page
    assert not Appointment.objects.filter(plan=plan, status=AppointmentStatus.BOOKED, booked_by__username="lake_desk")


def test_the_make_up_page_of_the_courses_site_keeps_a_bounded_number_of_queries(
    client, missed, django_assert_max_num_queries
):
    clinic, east, plan, search = missed
    url = reverse("web:book-session", args=[plan.patient.pk])
    counts = []
    for desk in (clinic.front_desk, _desk("east_desk", east)):
        client.logout()
        login(client, desk.user)
        client.get(url, search)  # the first use on this connection prepares the hot reads
        with django_assert_max_num_queries(MAKE_UP_PAGE_QUERIES), CaptureQueriesContext(connection) as queries:
            assert client.get(url, search).status_code == 200
        counts.append(len(queries))
    # The desk of the course's site only costs no read more than the desk of both sites.
    both_sites, course_site_only = counts
    assert course_site_only <= both_sites
