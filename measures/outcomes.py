"""What the scores say about the course, in plain Python on plain values (no ORM).

Rules (clinical defaults, documented here and shown to the clinician):
- Baseline: the first score of an instrument completed at or before the start of the plan's
  first session (a questionnaire linked to that first session also counts, even if entered
  a little late). Without a first session yet, every score is pre-treatment and the first
  one is the baseline. Scores that all come after the first session have no baseline.
- Latest: the most recent score. Response and remission are only judged on a score taken
  after the baseline.
- Response: the latest score is at least 50 % below the baseline (baseline above 0).
- Remission: PHQ-9 below 5.
- Interval suggestion: for an active plan in maintenance, if any instrument reached response
  after the baseline and the latest score has lost it (now less than 50 % below baseline),
  the symptoms are coming back before the next session: suggest shortening the interval by
  a week, never below the protocol's shortest maintenance interval
  (suggested = max(maintenance_min_days, current − 7)). It is a suggestion only: the
  clinician decides and changes the plan through the usual plan adjustment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from measures.scoring import Instrument

RESPONSE_REDUCTION_PCT = 50
PHQ9_REMISSION_BELOW = 5
SHORTEN_BY_DAYS = 7


@dataclass(frozen=True)
class ScorePoint:
    completed_at: dt.datetime
    total: int
    appointment_id: int | None = None


@dataclass(frozen=True)
class FirstSession:
    appointment_id: int
    starts_at: dt.datetime
    # Until when answers given for it are pre-treatment: the infusion's start (in the chair), or the
    # session's start when that step was not recorded.
    answers_until: dt.datetime | None = None


@dataclass(frozen=True)
class PlanState:
    in_maintenance: bool
    active: bool
    interval_days: int
    min_interval_days: int


@dataclass(frozen=True)
class InstrumentOutcome:
    instrument: Instrument
    baseline: ScorePoint | None
    latest: ScorePoint | None
    reduction_pct: float | None  # from baseline to latest; negative when worse
    response: bool
    remission: bool | None  # None for instruments without a remission rule
    reached_response: bool  # at any score after the baseline
    lost_response: bool  # reached response earlier, latest no longer meets it


@dataclass(frozen=True)
class IntervalSuggestion:
    current_days: int
    suggested_days: int
    instruments: tuple[Instrument, ...]

    @property
    def at_minimum(self) -> bool:
        """Already at the protocol's shortest interval: nothing to shorten, a review is due."""
        return self.suggested_days >= self.current_days


def reduction_pct(baseline: int, value: int) -> float | None:
    if baseline <= 0:
        return None
    return round((baseline - value) * 100 / baseline, 1)


def find_baseline(
    points: Sequence[ScorePoint], first_session: FirstSession | None, *, since: dt.datetime | None = None
) -> ScorePoint | None:
    """The course's pre-treatment score: the first at or before its first session (or given for it
    before its infusion began: a score tied to it weeks later is not pre-treatment). `since`, the end of the patient's course before this one: a second course (after a
    relapse) is judged against the scores given after the first ended, not before it began."""
    ordered = sorted((p for p in points if since is None or p.completed_at > since), key=lambda p: p.completed_at)
    if first_session is None:
        return ordered[0] if ordered else None
    for point in ordered:
        if point.completed_at <= first_session.starts_at:
            return point
        given_for_it = point.appointment_id == first_session.appointment_id
        if given_for_it and (first_session.answers_until is None or point.completed_at <= first_session.answers_until):
            return point  # filled in at check-in, before the infusion began
    return None


def instrument_outcome(
    instrument: Instrument,
    points: Iterable[ScorePoint],
    first_session: FirstSession | None,
    *,
    since: dt.datetime | None = None,
) -> InstrumentOutcome:
    ordered = sorted(points, key=lambda p: p.completed_at)
    latest = ordered[-1] if ordered else None
    baseline = find_baseline(ordered, first_session, since=since)
    after = [p for p in ordered if baseline is not None and p.completed_at > baseline.completed_at]
    change = reduction_pct(baseline.total, latest.total) if baseline and latest and after else None
    responded = change is not None and change >= RESPONSE_REDUCTION_PCT
    reached = baseline is not None and any(
        (pct := reduction_pct(baseline.total, p.total)) is not None and pct >= RESPONSE_REDUCTION_PCT for p in after
    )
    remission = None
    if instrument == Instrument.PHQ9:
        remission = bool(after) and latest is not None and latest.total < PHQ9_REMISSION_BELOW
    return InstrumentOutcome(
        instrument=instrument,
        baseline=baseline,
        latest=latest,
        reduction_pct=change,
        response=responded,
        remission=remission,
        reached_response=reached,
        lost_response=reached and not responded,
    )


def interval_suggestion(outcomes: Iterable[InstrumentOutcome], plan: PlanState | None) -> IntervalSuggestion | None:
    if plan is None or not (plan.active and plan.in_maintenance):
        return None
    worsening = tuple(o.instrument for o in outcomes if o.lost_response)
    if not worsening:
        return None
    suggested = max(plan.min_interval_days, plan.interval_days - SHORTEN_BY_DAYS)
    return IntervalSuggestion(current_days=plan.interval_days, suggested_days=suggested, instruments=worsening)
