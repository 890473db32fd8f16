"""The baseline is "the first score ... at or before the start of the plan's first session": the
pre-treatment score of *this* course. For a patient's second course (after a relapse), the selector
hands every response the patient ever gave to the rule, so the baseline is the score from before the
first course, months old, and response/remission are judged against it."""

from __future__ import annotations

import datetime as dt

import pytest

from measures.scoring import Instrument
from measures.selectors import outcome_summary
from scheduling.models import AppointmentStatus, PlanStatus
from tests.factories import AppointmentFactory, PlanFactory
from tests.measures.conftest import LATER, phq9, world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def _first_course_then_relapse(world):  # noqa: F811
    """The first course: PHQ-9 24 before it, 6 at the end of the induction, then it ends on 25 March;
    a relapse, PHQ-9 20 on 8 April."""
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
    world.record(world.patient_a, "phq9", phq9(20), dt.datetime(2026, 4, 8, 15, tzinfo=dt.UTC))
    return first_course


def test_a_second_course_is_judged_against_its_own_pre_treatment_score(world):  # noqa: F811
    # A new course starts on 13 April, PHQ-9 11 on 18 April.
    first_course = _first_course_then_relapse(world)
    second_course = PlanFactory(
        patient=world.patient_a,
        site=world.clinic.site,
        protocol=first_course.protocol,
        prescriber=world.clinic.prescriber,
        start_date=dt.date(2026, 4, 13),
        status=PlanStatus.ACTIVE,
    )
    AppointmentFactory(
        patient=world.patient_a,
        chair=world.clinic.chairs[0],
        plan=second_course,
        starts_at=dt.datetime(2026, 4, 13, 14, tzinfo=dt.UTC),
        status=AppointmentStatus.COMPLETED,
    )
    world.record(world.patient_a, "phq9", phq9(11), dt.datetime(2026, 4, 18, 15, tzinfo=dt.UTC))

    summary = outcome_summary(patient=world.patient_a, now=LATER)
    assert summary.plan == second_course
    outcome = summary.outcomes[Instrument.PHQ9]
    # 11 is 45 % below the relapse score of 20: no response to the second course yet.
    assert outcome.baseline.total == 20, f"baseline taken from before the first course: {outcome.baseline}"
    assert outcome.response is False


def test_a_new_course_not_yet_booked_is_not_judged_against_the_previous_courses_baseline(world):  # noqa: F811
    """Between creating the relapse plan and booking it, the baseline is the relapse score (20),
    not the one from before the first course (24), and the chart does not read "Response lost"."""
    first_course = _first_course_then_relapse(world)
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
