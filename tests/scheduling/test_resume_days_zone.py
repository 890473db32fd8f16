"""A paused plan's resume spacing counts from the day its last session was held at that session's
own site (scheduling.selectors.resume_days): a course booked at a site in another zone than the
plan's is not a day off because the plan's site reads the same instant as another date."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.models import AppointmentStatus, Phase
from scheduling.selectors import resume_days
from tests.factories import AppointmentFactory, ChairFactory, PlanFactory, SiteFactory

pytestmark = pytest.mark.django_db

# Monday 2 March 2026, 12:00 in New York; already Tuesday 3 March, 02:00, in Tokyo.
HELD = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)


def test_the_last_session_held_is_counted_on_the_day_of_its_own_site():
    plans_site = SiteFactory(name="Tokyo", time_zone="Asia/Tokyo")
    course_site = SiteFactory(name="New York", time_zone="America/New_York")
    plan = PlanFactory(patient__home_site=plans_site)
    AppointmentFactory(
        patient=plan.patient,
        plan=plan,
        chair=ChairFactory(site=course_site),
        starts_at=HELD,
        phase=Phase.INDUCTION,
        status=AppointmentStatus.COMPLETED,
        completed_at=HELD + dt.timedelta(hours=2),
    )

    days = resume_days(plan)

    assert days.last_held == dt.date(2026, 3, 2)
    assert days.earliest == dt.date(2026, 3, 2) + dt.timedelta(days=days.min_days)
    assert days.min_days == 2  # the protocol's 48 hours
