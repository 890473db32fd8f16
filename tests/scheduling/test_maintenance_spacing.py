"""Moving a maintenance session must keep the protocol's spacing on both sides: the move below
leaves the next session only 7 days later, under the protocol's 14-day minimum."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from scheduling import services
from scheduling.errors import PlanRuleBroken
from scheduling.models import Phase, PlanStatus, TreatmentPlan
from scheduling.services.appointments import plan_rule_violations
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10), tzinfo=NY)


A, B, C = dt.date(2026, 3, 2), dt.date(2026, 3, 23), dt.date(2026, 4, 13)  # Mondays, 21 days apart
B_MOVED = dt.date(2026, 4, 6)  # 35 days after A (allowed), 7 days before C (not allowed)


def _maintenance_plan(clinic):
    plan = clinic.plan(maintenance_interval_days=21)
    TreatmentPlan.objects.filter(pk=plan.pk).update(phase=Phase.MAINTENANCE)
    plan.refresh_from_db()
    sessions = clinic.book(plan, [_at(day) for day in (A, B, C)], phase=Phase.MAINTENANCE)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    assert (plan.protocol.maintenance_min_days, plan.protocol.maintenance_max_days) == (14, 42)
    return plan, sessions


def test_the_rules_see_a_maintenance_session_one_week_before_the_next(clinic):
    plan, (_, b, _) = _maintenance_plan(clinic)
    violations = plan_rule_violations(plan=plan, starts_at=_at(B_MOVED), phase=Phase.MAINTENANCE, exclude_id=b.pk)
    assert violations, "no rule named for a session 7 days before the next maintenance session"


def test_the_desk_cannot_move_a_maintenance_session_to_a_week_before_the_next_without_a_prescriber(clinic):
    _, (_, b, _) = _maintenance_plan(clinic)
    with pytest.raises(PlanRuleBroken):
        services.appointment_move(appointment=b, starts_at=_at(B_MOVED), actor=clinic.front_desk.user, now=NOW)
