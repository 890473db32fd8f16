"""A course booked at another site than the plan's ("Book a course" offers the nearest courses
that fit at the desk's other sites; the plan stays at its site) is made up for there: a cancelled
or missed session's replacement is searched at the site the course's sessions are at, in that
site's zone, and the cancel's answer gives each time in the zone of the site it is at. Fixture of
tests/web/test_alternative_site_zone.py: the plan's site in Denver closed from Mon 2 Mar 2026 for
two months; East Side in New York (two hours ahead), one chair, a nurse on shift."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from clinic.models import Role
from clinic.permissions import OutsideYourSites
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import appointment_cancel
from tests.factories import StaffFactory
from tests.scheduling.conftest import NOW
from tests.web.conftest import frozen  # noqa: F401  (fixture)
from tests.web.test_alternative_site_propose import _east_alternative
from tests.web.test_alternative_site_zone import two_zones  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def _course_at_east(client, clinic, east, plan) -> list[Appointment]:
    _, alternative = _east_alternative(client, clinic, east, plan)
    url = reverse("web:book-course", args=[plan.pk])
    data = {"start_date": alternative["first_day"].isoformat(), "site": str(east.pk)}
    token = client.post(url, data).context["token"]
    assert client.post(url, {**data, "proposal": token}).status_code == 302
    course = list(Appointment.objects.filter(plan=plan).order_by("starts_at"))
    assert {a.site_id for a in course} == {east.pk}
    return course


def test_a_rebook_of_a_course_booked_at_another_site_replaces_the_session_there(client, two_zones):  # noqa: F811
    clinic, east, plan = two_zones
    course = _course_at_east(client, clinic, east, plan)

    outcome = appointment_cancel(
        appointment=course[1], actor=clinic.front_desk.user, reason="Car broke down", now=NOW, rebook=True
    )

    # East Side has room in the window (the course found six sessions there): a make-up there.
    assert outcome.rebooked, outcome.course
    assert {a.site_id for a in outcome.rebooked} == {east.pk}
    assert not outcome.plan_flagged
    live = Appointment.objects.filter(plan=plan).exclude(status=AppointmentStatus.CANCELLED)
    assert live.count() == len(course)
    # The answer gives the replacement's time where the patient sits in the chair: New York's.
    (made_up,) = outcome.rebooked
    # With its chair and why the site's policy chose it.
    assert outcome.course.startswith(
        f"Replacement booked: {made_up.starts_at.astimezone(NEW_YORK):%a %-d %b %Y %H:%M}, {made_up.chair.name} ("
    ), outcome.course
    assert outcome.rebooked_whys[0] in outcome.course


def test_the_rebook_is_refused_to_a_desk_that_does_not_work_at_the_courses_site(client, two_zones):  # noqa: F811
    clinic, east, plan = two_zones
    course = _course_at_east(client, clinic, east, plan)
    denver_only = StaffFactory(role=Role.FRONT_DESK, sites=[clinic.site])

    with pytest.raises(OutsideYourSites):
        appointment_cancel(appointment=course[1], actor=denver_only.user, reason="Unwell", now=NOW, rebook=True)

    # Refused as a whole: the session stands and nothing was booked anywhere.
    assert list(Appointment.objects.filter(plan=plan).order_by("starts_at")) == course
    assert not Appointment.objects.filter(plan=plan, status=AppointmentStatus.CANCELLED).exists()


def test_a_cancel_without_rebook_offers_the_replacement_at_that_site_in_its_zone(client, two_zones):  # noqa: F811
    clinic, east, plan = two_zones
    course = _course_at_east(client, clinic, east, plan)

    outcome = appointment_cancel(appointment=course[1], actor=clinic.front_desk.user, reason="Unwell", now=NOW)

    assert outcome.plan_flagged
    assert outcome.replacement_starts_at is not None, outcome.course
    there = outcome.replacement_starts_at.astimezone(NEW_YORK)
    assert f"the first replacement that fits is {there:%a %-d %b %Y %H:%M}, Chair " in outcome.course
    plan.refresh_from_db()
    missed = course[1].starts_at.astimezone(NEW_YORK)
    assert plan.attention_reason.startswith(f"Session on {missed:%a %-d %b %Y %H:%M} was cancelled: ")


def test_the_make_up_page_books_the_make_up_at_the_courses_site(client, two_zones):  # noqa: F811
    clinic, east, plan = two_zones
    course = _course_at_east(client, clinic, east, plan)
    appointment_cancel(appointment=course[1], actor=clinic.front_desk.user, reason="Unwell", now=NOW)
    url = reverse("web:book-session", args=[plan.patient.pk])
    last_kept = course[-1].starts_at.astimezone(NEW_YORK).date()
    search = {
        "kind": "make-up",
        "first_day": last_kept.isoformat(),
        "last_day": (last_kept + dt.timedelta(days=6)).isoformat(),
    }

    response = client.get(url, search)

    assert response.context["site"] == east
    free = [c for day in response.context["days"] for c in day["free"]]
    assert free, response.context.get("problem")
    response = client.post(url, {**search, "slot": free[0]["value"]})
    assert response.status_code == 302, response.context.get("problem")
    made_up = Appointment.objects.get(plan=plan, starts_at=free[0]["start"], status=AppointmentStatus.BOOKED)
    assert (made_up.site, made_up.phase) == (east, "induction")
    there = made_up.starts_at.astimezone(NEW_YORK)
    assert f"on {there:%a %-d %b %H:%M}." in client.get(response["Location"]).content.decode()
