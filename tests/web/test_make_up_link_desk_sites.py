"""The "Course short … Book a make-up" links of a course booked at another site than the plan's,
seen by desks of each site (fixture of tests/web/test_make_up_at_course_site.py: the plan's site in
Denver, closed for two months, the course at East Side in New York, one session of it cancelled).

A link to the make-up page is offered only to a desk whom that page serves: one who works at the
course's site (web.scope.make_up_elsewhere, with the booking page's own words). A desk who works at
the plan's site only is told on the chart, the board and the sessions-to-move list that the course
is at East Side and that a desk there books its make-up, with no link to a page that offers nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import Role, Site, StaffMember
from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus, Phase
from scheduling.services import appointment_cancel
from tests.factories import AppointmentFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import NOW, START
from tests.web.conftest import frozen, login  # noqa: F401  (fixture)
from tests.web.test_alternative_site_zone import two_zones  # noqa: F401  (fixture)
from tests.web.test_make_up_at_course_site import missed  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

ELSEWHERE = "This course is at East Side, where you do not work: a desk there books its make-up."
DESKS = ["the plan's site only", "the course's site only", "both sites"]


def _desk(clinic, east: Site, desk_of: str) -> StaffMember:
    if desk_of == "both sites":
        return clinic.front_desk
    site = clinic.site if desk_of == "the plan's site only" else east
    return StaffFactory(role=Role.FRONT_DESK, sites=[site], user=UserFactory(username="one_site_desk"))


def _make_up_link(patient: Patient) -> str:
    return f'href="{reverse("web:book-session", args=[patient.pk])}?kind=make-up"'


def _get(client, staff: StaffMember, url: str) -> str:
    login(client, staff.user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


@pytest.mark.parametrize("desk_of", DESKS)
def test_the_charts_make_up_link_is_offered_only_to_a_desk_who_works_at_the_courses_site(
    client,
    missed,  # noqa: F811
    desk_of,
):
    clinic, east, plan, _search = missed
    staff = _desk(clinic, east, desk_of)

    page = _get(client, staff, reverse("web:patient", args=[plan.patient.pk]))

    if desk_of == "the plan's site only":
        # The callout still says the course is short, and where it is to be made up and by whom.
        callout = page.split('data-testid="course-short"')[1].split("</div>")[0]
        assert "the induction is missing 1 session" in callout
        assert ELSEWHERE in callout
        assert _make_up_link(plan.patient) not in page
        assert "Book a make-up" not in page
    else:
        assert _make_up_link(plan.patient) in page
        assert ELSEWHERE not in page
    # The link, where given, leads to a page that serves this desk: the booking page's own words.
    login(client, staff.user)
    booking = client.get(reverse("web:book-session", args=[plan.patient.pk]) + "?kind=make-up")
    problem = booking.context.get("problem")
    offered = problem is None or problem.message != ELSEWHERE
    assert offered == (_make_up_link(plan.patient) in page)


@pytest.fixture
def session_at_plans_site(missed):  # noqa: F811
    """One session of the course at the plan's site, on Mon 2 Mar, before East Side's (the course's
    site stays East Side: its latest session is there), where Denver's closure leaves it to move.
    A second session at East Side is cancelled so that the course is still one session short."""
    clinic, east, plan, _search = missed
    course = list(
        Appointment.objects.filter(plan=plan, site=east)
        .exclude(status=AppointmentStatus.CANCELLED)
        .order_by("starts_at")
    )
    appointment_cancel(appointment=course[1], actor=clinic.front_desk.user, reason="Unwell", now=NOW)
    denver = AppointmentFactory(
        patient=plan.patient,
        plan=plan,
        chair=clinic.chairs[0],
        starts_at=dt.datetime(2026, 3, 2, 16, tzinfo=dt.UTC),
        phase=Phase.INDUCTION,
        induction_round=plan.induction_round,
        status=AppointmentStatus.BOOKED,
    )
    assert denver.starts_at < course[-1].starts_at
    plan.refresh_from_db()
    assert plan.needs_attention
    return clinic, east, plan


@pytest.mark.parametrize("page_name", ["board", "to-move"])
@pytest.mark.parametrize("desk_of", ["the plan's site only", "both sites"])
def test_the_board_and_to_move_list_offer_the_make_up_link_only_to_a_desk_of_the_courses_site(
    client, session_at_plans_site, page_name, desk_of
):
    clinic, east, plan = session_at_plans_site
    staff = _desk(clinic, east, desk_of)
    url = reverse(f"web:{page_name}") + f"?site={clinic.site.pk}&day={START.isoformat()}"

    page = _get(client, staff, url)

    badge = page.split('data-testid="course-short"')[1].split("</p>")[0]
    assert "1 induction session missing" in badge
    if desk_of == "the plan's site only":
        assert ELSEWHERE in badge
        assert _make_up_link(plan.patient) not in page
    else:
        assert _make_up_link(plan.patient) in badge
        assert ELSEWHERE not in page


def test_the_board_of_the_courses_site_offers_its_desk_the_make_up_link(client, session_at_plans_site):
    clinic, east, plan = session_at_plans_site
    staff = _desk(clinic, east, "the course's site only")
    day = Appointment.objects.filter(plan=plan, site=east, status=AppointmentStatus.BOOKED).earliest("starts_at")

    page = _get(
        client,
        staff,
        reverse("web:board") + f"?site={east.pk}&day={day.starts_at.astimezone(east.zone).date().isoformat()}",
    )

    assert _make_up_link(plan.patient) in page.split('data-testid="course-short"')[1].split("</p>")[0]
    assert ELSEWHERE not in page
