"""The course's baseline (measures/outcomes.py: find_baseline) is a score given before treatment: one
given for the first session counts only if given before its infusion began."""

from __future__ import annotations

import datetime as dt

import pytest

from measures.scoring import Instrument
from measures.selectors import outcome_summary
from scheduling.models import Appointment
from tests.clinical_helpers import complete_session
from tests.measures.conftest import LATER, phq9, world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_a_score_given_in_recovery_after_the_infusion_becomes_the_baseline_when_the_chair_step_was_skipped(
    world,  # noqa: F811
):
    """The first session is checked in and the infusion given without the "in the chair" step: a
    score given for it in recovery is not the course's pre-treatment baseline (answers for a session
    count until its start when the infusion's own start was not recorded)."""
    first = world.sessions_a[0]
    complete_session(first)  # check-in, vitals, administration 5-45 min, discharge, completed at its end
    # Recording the administration now puts the session in the chair at the infusion's start; one
    # recorded before it did has no in-chair time.
    assert first.in_chair_at == first.starts_at + dt.timedelta(minutes=5)
    Appointment.objects.filter(pk=first.pk).update(in_chair_at=None)
    after_infusion = first.starts_at + dt.timedelta(minutes=60)
    world.record(world.patient_a, "phq9", phq9(6), after_infusion, appointment=first)
    outcome = outcome_summary(patient=world.patient_a, now=LATER).outcomes.get(Instrument.PHQ9)
    baseline = outcome.baseline if outcome is not None else None
    assert baseline is None or baseline.completed_at <= first.starts_at + dt.timedelta(minutes=5), (
        f"a score given at {baseline.completed_at:%H:%M}, after the infusion that began at "
        f"{first.starts_at + dt.timedelta(minutes=5):%H:%M}, is the course's pre-treatment baseline"
    )


def test_a_score_given_in_recovery_is_not_the_baseline_once_the_administration_put_the_session_in_the_chair(
    world,  # noqa: F811
):
    first = world.sessions_a[0]
    complete_session(first)  # the chair step skipped: the administration (from 5 min) records the chair time
    world.record(world.patient_a, "phq9", phq9(6), first.starts_at + dt.timedelta(minutes=60), appointment=first)
    outcome = outcome_summary(patient=world.patient_a, now=LATER).outcomes.get(Instrument.PHQ9)
    baseline = outcome.baseline if outcome is not None else None
    assert baseline is None or baseline.completed_at <= first.starts_at + dt.timedelta(minutes=5)
