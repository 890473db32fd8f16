"""$find course=true for a patient whose open plan is at a site the search does not cover (here one
the caller cannot see) is refused: the course would be booked outside the plan, as single sessions."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Role
from scheduling.models import Appointment
from scheduling.services import plan_create
from tests.factories import ChairFactory, SiteFactory, StaffFactory, UserFactory
from tests.interop.fhir_support import find_body, outcome_of, post
from tests.scheduling.conftest import START, add_shifts

pytestmark = pytest.mark.django_db


def test_a_course_found_under_a_plan_at_a_site_the_caller_cannot_see_is_not_booked_outside_the_plan(world):
    uptown = SiteFactory(name="Uptown")
    ChairFactory(site=uptown, name="U1")
    add_shifts(StaffFactory(role=Role.NURSE, sites=[uptown]), uptown, START - dt.timedelta(days=7), 60)
    prescriber = StaffFactory(role=Role.PRESCRIBER, sites=[uptown], user=UserFactory(username="uptown_dr"))
    # Alice's home site is the desk's site; her open plan is at Uptown, where the desk does not work.
    plan = plan_create(
        patient=world.patient_a,
        protocol=world.protocol,
        prescriber=prescriber,
        start_date=START,
        actor=prescriber.user,
        site=uptown,
    )
    response = post(world.client("front_desk"), "Appointment/$find", find_body(world, world.patient_a, course=True))
    assert response.status_code == 409, response.content
    # The plan's site is not named to someone who does not work there.
    message = outcome_of(response).diagnostics
    assert "a site you do not work at" in message and f"site-{uptown.pk}" not in message
    assert not Appointment.objects.filter(patient=world.patient_a).exclude(plan=plan).exists()
