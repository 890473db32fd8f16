"""Re-planning maintenance that leaves a session at its time but in another chair is a change,
not a move (maintenance_replan's own comment; tests/reminders/test_chair_swap_not_a_move.py for
the desk's move): the patient must not be told the session moved."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from scheduling import services
from scheduling.models import Phase, ReminderKind, ReminderStatus, TreatmentPlan
from tests.scheduling.conftest import NOW, make_clinic

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(8), tzinfo=NY)


A, B, C = dt.date(2026, 3, 2), dt.date(2026, 3, 23), dt.date(2026, 4, 13)  # Mondays, 21 days apart


def test_a_replan_that_only_puts_a_session_back_in_another_chair_does_not_say_it_moved():
    clinic = make_clinic()
    plan = clinic.plan(maintenance_interval_days=21)
    TreatmentPlan.objects.filter(pk=plan.pk).update(phase=Phase.MAINTENANCE)
    plan.refresh_from_db()
    a, b, _c = clinic.book(plan, [_at(day) for day in (A, B, C)], phase=Phase.MAINTENANCE)
    services.appointment_confirm(appointment=a, actor=clinic.front_desk.user, now=NOW)
    # The desk puts B in chair 2 at the same time: no notice (a change, not a move).
    services.appointment_move(
        appointment=b, starts_at=b.starts_at, chair=clinic.chairs[1], actor=clinic.front_desk.user, now=NOW
    )
    b.refresh_from_db()
    before = (b.starts_at, b.chair_id)
    services.plan_change_interval(
        plan=plan, days=21, reason="Interval confirmed at review", actor=clinic.prescriber.user, now=NOW
    )
    b.refresh_from_db()
    assert b.starts_at == before[0] and b.chair_id != before[1]  # same time, the other chair
    notices = b.reminders.filter(kind=ReminderKind.CHANGE).exclude(status=ReminderStatus.CANCELLED)
    # The change notice reads "Your session at ... has been moved ... Links in earlier messages no longer work."
    assert not notices.exists(), "the patient is told the session moved although its time did not change"
