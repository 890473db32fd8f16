"""Re-flow after the course's first induction session is cancelled: the protocol's window (6 sessions
within 21 days) runs from the first session the patient will have, as the booking rules count it, not
from a session that no longer exists."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from scheduling import services
from scheduling.models import AppointmentStatus, Phase
from scheduling.services.appointments import plan_rule_violations
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
DAYS = [dt.date(2026, 3, d) for d in (2, 6, 10, 13, 17, 20)]  # Mon, Fri, Tue, Fri, Tue, Fri: 18 days
REPLACEMENT = dt.datetime(2026, 3, 23, 10, tzinfo=NY)  # Mon 23 March: 17 days after Fri 6 March


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10), tzinfo=NY)


def test_cancelling_the_first_induction_session_with_rebook_books_the_replacement_the_rules_allow(clinic):
    plan = clinic.plan()
    sessions = clinic.book(plan, [_at(day) for day in DAYS])
    plan.refresh_from_db()
    first = sessions[0]
    # Without the first session, Mon 23 March breaks none of the plan's rules...
    assert plan_rule_violations(plan=plan, starts_at=REPLACEMENT, phase=Phase.INDUCTION, exclude_id=first.pk) == []

    outcome = services.appointment_cancel(
        appointment=first, actor=clinic.front_desk.user, reason="Flu", now=NOW, rebook=True
    )
    # ...so the re-flow the desk asked for should book it, not flag the course as short.
    assert outcome.short_by == 0, outcome.course
    assert [a.starts_at.astimezone(NY).date() for a in outcome.rebooked] == [REPLACEMENT.date()]
    assert plan.appointments.filter(status=AppointmentStatus.BOOKED).count() == 6
