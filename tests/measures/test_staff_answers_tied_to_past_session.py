"""Answers a clinician enters for a patient, tied to a session that took place weeks before."""

from __future__ import annotations

import pytest

from measures.scoring import Instrument
from measures.selectors import outcome_summary
from tests.measures.conftest import LATER, phq9, world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_answers_given_today_tied_by_a_clinician_to_the_first_session_do_not_become_the_baseline(world):  # noqa: F811
    """A PHQ-9 taken by phone on 20 April and tied by the nurse to the first session (2 March) is not
    the course's pre-treatment baseline: a score given for the first session counts only if given
    before its infusion began (or before its end, for a session that never began)."""
    first = world.sessions_a[0]  # Monday 2 March 2026
    response = world.client("nurse").post(
        "/api/v1/questionnaire-responses/",
        {"patient": world.patient_a.pk, "instrument": "phq9", "answers": phq9(9), "appointment": first.pk},
        format="json",
    )
    assert response.status_code in (201, 400), response.content
    outcome = outcome_summary(patient=world.patient_a, now=LATER).outcomes.get(Instrument.PHQ9)
    baseline = outcome.baseline if outcome is not None else None
    assert baseline is None or baseline.completed_at <= first.starts_at, (
        f"a score given on {baseline.completed_at:%d %b} is the baseline of a course begun on {first.starts_at:%d %b}"
    )
