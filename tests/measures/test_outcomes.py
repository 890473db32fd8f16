"""Baseline, response, remission and the interval suggestion: the pure rules, then the
selector on a real plan with booked sessions."""

from __future__ import annotations

import datetime as dt

import pytest

from measures.outcomes import FirstSession, PlanState, ScorePoint, instrument_outcome, interval_suggestion
from measures.scoring import Instrument
from measures.selectors import outcome_summary
from scheduling.models import Phase, PlanStatus, TreatmentPlan
from tests.measures.conftest import LATER, phq9

DAY = dt.timedelta(days=1)
T0 = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)
FIRST = FirstSession(appointment_id=1, starts_at=T0)
MAINTENANCE = PlanState(in_maintenance=True, active=True, interval_days=28, min_interval_days=14)


def points(*pairs: tuple[int, int]) -> list[ScorePoint]:
    """(days from the first session, total) pairs."""
    return [ScorePoint(T0 + offset * DAY, total) for offset, total in pairs]


def test_baseline_is_the_first_score_at_or_before_the_first_session():
    outcome = instrument_outcome(Instrument.PHQ9, points((-10, 22), (-1, 20), (7, 12)), FIRST)
    assert outcome.baseline.total == 22
    assert outcome.latest.total == 12


def test_a_score_linked_to_the_first_session_counts_as_baseline_even_if_entered_after_it_started():
    late = ScorePoint(T0 + dt.timedelta(minutes=30), 18, appointment_id=FIRST.appointment_id)
    outcome = instrument_outcome(Instrument.PHQ9, [late, ScorePoint(T0 + 9 * DAY, 8)], FIRST)
    assert outcome.baseline == late


def test_scores_all_after_the_first_session_have_no_baseline_and_no_verdict():
    outcome = instrument_outcome(Instrument.PHQ9, points((3, 20), (10, 4)), FIRST)
    assert outcome.baseline is None
    assert (outcome.response, outcome.remission, outcome.reduction_pct) == (False, False, None)


def test_without_sessions_yet_the_first_score_is_the_baseline():
    outcome = instrument_outcome(Instrument.GAD7, points((0, 12), (3, 10)), None)
    assert outcome.baseline.total == 12


def test_response_needs_a_50_percent_reduction():
    assert instrument_outcome(Instrument.PHQ9, points((-1, 20), (14, 10)), FIRST).response is True
    just_short = instrument_outcome(Instrument.PHQ9, points((-1, 20), (14, 11)), FIRST)
    assert (just_short.response, just_short.reduction_pct) == (False, 45.0)


def test_remission_is_phq9_below_5_after_baseline():
    assert instrument_outcome(Instrument.PHQ9, points((-1, 20), (14, 4)), FIRST).remission is True
    assert instrument_outcome(Instrument.PHQ9, points((-1, 20), (14, 5)), FIRST).remission is False
    # A low score at baseline is not a remission: nothing has been treated yet.
    assert instrument_outcome(Instrument.PHQ9, points((-1, 3)), FIRST).remission is False
    assert instrument_outcome(Instrument.GAD7, points((-1, 20), (14, 2)), FIRST).remission is None


def test_worse_than_baseline_is_a_negative_reduction():
    outcome = instrument_outcome(Instrument.PAIN, points((-1, 4), (7, 6)), FIRST)
    assert outcome.reduction_pct == -50.0 and not outcome.response


def test_losing_response_in_maintenance_suggests_a_week_shorter_interval():
    outcome = instrument_outcome(Instrument.PHQ9, points((-1, 20), (20, 6), (60, 12)), FIRST)
    assert outcome.reached_response and outcome.lost_response
    suggestion = interval_suggestion([outcome], MAINTENANCE)
    assert (suggestion.current_days, suggestion.suggested_days, suggestion.instruments) == (28, 21, (Instrument.PHQ9,))
    assert not suggestion.at_minimum


def test_suggestion_never_goes_below_the_protocol_minimum():
    outcome = instrument_outcome(Instrument.PHQ9, points((-1, 20), (20, 6), (60, 12)), FIRST)
    plan = PlanState(in_maintenance=True, active=True, interval_days=18, min_interval_days=14)
    assert interval_suggestion([outcome], plan).suggested_days == 14
    at_minimum = interval_suggestion([outcome], PlanState(True, True, 14, 14))
    assert at_minimum.suggested_days == 14 and at_minimum.at_minimum


@pytest.mark.parametrize(
    ("pairs", "plan"),
    [
        (((-1, 20), (20, 6), (60, 8)), MAINTENANCE),  # still responding
        (((-1, 20), (20, 14), (60, 16)), MAINTENANCE),  # never responded: a different conversation
        (((-1, 20), (20, 6), (60, 12)), PlanState(False, True, 28, 14)),  # still in induction
        (((-1, 20), (20, 6), (60, 12)), PlanState(True, False, 28, 14)),  # paused or ended
        (((-1, 20), (20, 6), (60, 12)), None),  # no plan
    ],
)
def test_no_suggestion(pairs, plan):
    outcome = instrument_outcome(Instrument.PHQ9, points(*pairs), FIRST)
    assert interval_suggestion([outcome], plan) is None


# --- The selector on real rows ------------------------------------------------


def test_summary_uses_the_plans_first_booked_session(world):
    first = world.sessions_a[0]
    world.record(world.patient_a, "phq9", phq9(20), first.starts_at - dt.timedelta(days=3))
    world.record(world.patient_a, "phq9", phq9(18), first.starts_at - dt.timedelta(hours=1))
    world.record(world.patient_a, "phq9", phq9(4), LATER - DAY)
    summary = outcome_summary(patient=world.patient_a, now=LATER)
    outcome = summary.outcomes[Instrument.PHQ9]
    assert summary.first_session == first
    assert (outcome.baseline.total, outcome.latest.total, outcome.response, outcome.remission) == (20, 4, True, True)
    assert len(summary.session_times) == len(world.sessions_a)
    assert summary.suggestion is None


def test_summary_suggests_shorter_interval_when_maintenance_scores_rise(world):
    TreatmentPlan.objects.filter(pk=world.plan_a.pk).update(phase=Phase.MAINTENANCE, status=PlanStatus.ACTIVE)
    first = world.sessions_a[0]
    world.record(world.patient_a, "phq9", phq9(20), first.starts_at - DAY)
    world.record(world.patient_a, "phq9", phq9(6), first.starts_at + 20 * DAY)
    world.record(world.patient_a, "phq9", phq9(13, item9=1), LATER - DAY)
    summary = outcome_summary(patient=world.patient_a, now=LATER)
    assert summary.suggestion.suggested_days == world.plan_a.maintenance_interval_days - 7
    assert [r.total_score for r in summary.latest_flagged] == [13]
    world.plan_a.refresh_from_db()
    assert world.plan_a.maintenance_interval_days == 28  # only a suggestion


def test_summary_runs_three_queries_whatever_the_number_of_responses(world, django_assert_num_queries):
    for day in range(12):
        world.record(world.patient_a, "gad7", [1] * 7, LATER - (day + 1) * DAY)
    with django_assert_num_queries(3):
        outcome_summary(patient=world.patient_a, now=LATER)
