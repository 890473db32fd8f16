"""Outcome summary of a second course."""

from __future__ import annotations

import datetime as dt

import pytest

from measures.scoring import Instrument
from measures.selectors import outcome_summary
from scheduling.models import AppointmentStatus, PlanStatus
from tests.factories import PlanFactory
from tests.measures.conftest import LATER, phq9

pytestmark = pytest.mark.django_db


def test_a_new_course_not_yet_booked_is_not_judged_against_the_previous_courses_baseline(world):
    """Between creating a relapse plan and booking it, the new course's baseline is the score given
    after the first course ended (the relapse score, 20), not the one from before the first course
    (24, months old), and the chart does not read "Response lost" for a course not yet begun."""
    first_course = world.plan_a
    first_session = world.sessions_a[0].starts_at  # Monday 2 March 2026
    world.record(world.patient_a, "phq9", phq9(24), first_session - dt.timedelta(days=2))
    world.record(world.patient_a, "phq9", phq9(6), first_session + dt.timedelta(days=18))
    first_course.appointments.filter(starts_at__gt=dt.datetime(2026, 3, 25, tzinfo=dt.UTC)).update(
        status=AppointmentStatus.CANCELLED
    )
    type(first_course).objects.filter(pk=first_course.pk).update(
        status=PlanStatus.ENDED, ended_at=dt.datetime(2026, 3, 25, tzinfo=dt.UTC), end_reason="Course completed"
    )
    # A relapse: PHQ-9 20 on 8 April; the prescriber creates a new plan, not booked yet.
    world.record(world.patient_a, "phq9", phq9(20), dt.datetime(2026, 4, 8, 15, tzinfo=dt.UTC))
    second_course = PlanFactory(
        patient=world.patient_a,
        site=world.clinic.site,
        protocol=first_course.protocol,
        prescriber=world.clinic.prescriber,
        start_date=dt.date(2026, 4, 27),
        status=PlanStatus.DRAFT,
    )

    summary = outcome_summary(patient=world.patient_a, now=LATER)
    assert summary.plan == second_course
    outcome = summary.outcomes[Instrument.PHQ9]
    assert outcome.baseline.total == 20, f"baseline taken from before the first course: {outcome.baseline}"
    assert outcome.lost_response is False
