"""A course booked at another site than the plan's, one session of it cancelled, seen by desks of
each site (fixture of tests/web/test_make_up_at_course_site.py: the plan's site in Denver, closed
for two months, the course at East Side in New York).

The chart offers a desk who works only at the course's site the make-up the booking page serves
them (web.scope.booking_reach, the one test of both), and no more of the plan than where and how
many sessions are missing; a desk of the plan's site sees the chart as before; a desk of neither
site sees nothing of the plan. A desk who works only at the plan's site is told, on the make-up
page, that the course is at a site where they do not work, instead of being offered its times."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.models import Role, Site, StaffMember
from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus
from tests.factories import SiteFactory, StaffFactory, UserFactory
from tests.web.conftest import frozen, login  # noqa: F401  (fixture)
from tests.web.test_alternative_site_zone import two_zones  # noqa: F401  (fixture)
from tests.web.test_make_up_at_course_site import missed  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

ELSEWHERE = "This course is at East Side, where you do not work: a desk there books its make-up."


def _desk(username: str, *sites: Site) -> StaffMember:
    return StaffFactory(role=Role.FRONT_DESK, sites=list(sites), user=UserFactory(username=username))


def _chart(client, staff: StaffMember, patient: Patient):
    login(client, staff.user)
    response = client.get(reverse("web:patient", args=[patient.pk]))
    assert response.status_code == 200
    return response, response.content.decode()


# The chart


def test_the_chart_offers_a_desk_of_the_courses_site_only_the_make_up_and_only_where_and_how_many(
    client,
    missed,  # noqa: F811
):
    clinic, east, plan, _search = missed
    response, page = _chart(client, _desk("east_desk", east), plan.patient)

    assert response.context["course_make_up"] == {"site": east, "short_by": 1}
    assert 'data-testid="no-plan"' not in page
    assert "No open plan" not in page
    book = reverse("web:book-session", args=[plan.patient.pk])
    line = page.split('data-testid="course-make-up"')[1].split("</p>")[0]
    assert "Induction course at East Side, 1 session to make up:" in line
    assert f'href="{book}?kind=make-up"' in line
    # Nothing else of the plan: not its protocol, site, prescriber, interval or review date, and no
    # booking of anything but the make-up.
    assert response.context["open_plan"] is None
    assert not response.context["has_bookable_plan"]
    # The plan's site is not named as the plan's (it is the patient's home site, in the chart's head).
    plan_section = page.split('id="plan"')[1].split("</section>")[0]
    assert clinic.site.name not in plan_section
    for hidden in (
        plan.protocol.name,
        clinic.prescriber.display_name,
        "Review by",
        f"every {plan.maintenance_interval_days} days",
        "Book one session",
        reverse("web:plan-new", args=[plan.patient.pk]),
    ):
        assert hidden not in page, hidden
    # The link leads to a page that serves this desk: the booking page's own test.
    assert client.get(book).context["plan"] == plan


@pytest.mark.parametrize("desk_of", ["both sites", "the plan's site only"])
def test_the_chart_of_a_desk_of_the_plans_site_is_as_before(client, missed, desk_of):  # noqa: F811
    clinic, _east, plan, _search = missed
    staff = clinic.front_desk if desk_of == "both sites" else _desk("denver_desk", clinic.site)
    response, page = _chart(client, staff, plan.patient)

    assert "course_make_up" not in response.context or not response.context["course_make_up"]
    assert 'data-testid="course-make-up"' not in page
    assert response.context["open_plan"] == plan
    assert response.context["has_bookable_plan"]
    assert response.context["course_short_by"] == 1
    assert f'href="{reverse("web:book-session", args=[plan.patient.pk])}">Book one session</a>' in page
    assert plan.protocol.name in page
    assert 'data-testid="course-short"' in page
    assert 'data-testid="no-plan"' not in page


def test_the_chart_shows_a_desk_of_neither_site_nothing_of_the_plan(client, missed):  # noqa: F811
    _clinic, _east, plan, _search = missed
    lakeside = SiteFactory(name="Lakeside")
    lake_desk = _desk("lake_desk", lakeside)
    login(client, lake_desk.user)
    assert client.get(reverse("web:patient", args=[plan.patient.pk])).status_code == 404
    client.logout()
    # The patient's home site is Lakeside now: the chart opens there, with nothing of the plan.
    Patient.objects.filter(pk=plan.patient.pk).update(home_site=lakeside)

    response, page = _chart(client, lake_desk, plan.patient)

    assert not response.context.get("course_make_up")
    assert response.context["open_plan"] is None
    assert not response.context["has_bookable_plan"]
    assert 'data-testid="no-plan"' in page
    assert 'data-testid="course-make-up"' not in page
    assert "East Side" not in page
    assert plan.protocol.name not in page
    assert reverse("web:book-session", args=[plan.patient.pk]) not in page


# The make-up page, for a desk of the plan's site only


def _east_free_time(client, clinic, plan, search) -> str:
    """A free time of the make-up at East Side, as the desk of both sites is offered it."""
    login(client, clinic.front_desk.user)
    response = client.get(reverse("web:book-session", args=[plan.patient.pk]), search)
    client.logout()
    free = [c for day in response.context["days"] for c in day["free"]]
    assert free, response.context.get("problem")
    return free[0]["value"]


def test_a_desk_of_the_plans_site_only_is_told_the_course_is_elsewhere_and_offered_none_of_its_times(
    client,
    missed,  # noqa: F811
):
    clinic, _east, plan, search = missed
    east_time = _east_free_time(client, clinic, plan, search)
    login(client, _desk("denver_desk", clinic.site).user)
    url = reverse("web:book-session", args=[plan.patient.pk])

    for response in (client.get(url), client.get(url, search)):
        assert response.status_code == 200
        assert response.context["plan"] == plan
        assert response.context["problem"].message == ELSEWHERE
        assert not response.context["days"]
        page = response.content.decode()
        assert ELSEWHERE in page
        assert east_time not in page
        assert "Book this session" not in page
        # Maintenance is still offered, at the plan's site, as the page offers it in the induction.
        kinds = [value for value, _label in response.context["search"].fields["kind"].choices]
        assert kinds == ["make-up", "maintenance"]
        # The chairs to search are the plan's site's: East Side's are not this desk's to search.
        assert set(response.context["search"].fields["chair"].queryset) == set(clinic.chairs)


def test_a_desk_of_the_plans_site_only_who_posts_a_time_of_the_courses_site_books_nothing_and_is_told_why(
    client,
    missed,  # noqa: F811
):
    clinic, _east, plan, search = missed
    east_time = _east_free_time(client, clinic, plan, search)
    booked_before = list(Appointment.objects.filter(plan=plan, status=AppointmentStatus.BOOKED))
    login(client, _desk("denver_desk", clinic.site).user)

    response = client.post(reverse("web:book-session", args=[plan.patient.pk]), {**search, "slot": east_time})

    assert response.status_code == 403
    assert response.context["problem"].message == ELSEWHERE
    assert ELSEWHERE in response.content.decode()
    assert list(Appointment.objects.filter(plan=plan, status=AppointmentStatus.BOOKED)) == booked_before


def test_a_desk_of_the_plans_site_only_still_searches_maintenance_at_the_plans_site(client, missed):  # noqa: F811
    clinic, _east, plan, search = missed
    login(client, _desk("denver_desk", clinic.site).user)

    response = client.get(reverse("web:book-session", args=[plan.patient.pk]), {**search, "kind": "maintenance"})

    assert response.status_code == 200
    assert response.context["site"] == clinic.site
    assert response.context["days"] is not None
    assert ELSEWHERE not in response.content.decode()
