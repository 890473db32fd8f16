"""Tester's #21: "1 days before the next session" on the booking page of a maintenance patient. The
spacing refusals count their days in words that agree with the number."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from scheduling.models import Phase, TreatmentPlan
from scheduling.services.appointments import plan_rule_violations

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10), tzinfo=NY)


A, B = dt.date(2026, 3, 2), dt.date(2026, 3, 23)  # Mondays, 21 days apart


def _maintenance_plan(clinic):
    plan = clinic.plan(maintenance_interval_days=21)
    TreatmentPlan.objects.filter(pk=plan.pk).update(phase=Phase.MAINTENANCE)
    plan.refresh_from_db()
    clinic.book(plan, [_at(A), _at(B)], phase=Phase.MAINTENANCE)
    plan.refresh_from_db()
    return plan


@pytest.mark.parametrize(
    ("day", "said", "not_said"),
    [
        (dt.date(2026, 3, 22), "1 day before the next session", "1 days"),
        (dt.date(2026, 3, 3), "1 day after the previous session", "1 days"),
        (dt.date(2026, 3, 21), "2 days before the next session", "2 day "),
    ],
)
def test_a_one_day_gap_is_one_day(clinic, day, said, not_said):
    plan = _maintenance_plan(clinic)
    violations = plan_rule_violations(plan=plan, starts_at=_at(day), phase=Phase.MAINTENANCE)
    text = "; ".join(violations)
    assert said in text
    assert not_said not in text
