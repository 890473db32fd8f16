"""Session labels (web.common.session_label), the same on the chart, the board, the portal and the
pages that name one session: an induction session counts against its protocol; a maintenance
session's number counts the whole course and says so."""

from __future__ import annotations

import pytest

from scheduling.models import AppointmentStatus, Phase, ReleasedWithPlan
from scheduling.services import appointment_cancel, course_book
from tests.scheduling.conftest import NOW, START, into_maintenance, make_clinic
from web.common import session_label

pytestmark = pytest.mark.django_db


def test_the_first_maintenance_session_after_six_induction_sessions_does_not_read_as_the_seventh():
    clinic = make_clinic()
    plan, course = into_maintenance(clinic)
    assert [session_label(a) for a in course] == [f"Session {n} of 6" for n in range(1, 7)]
    first = plan.appointments.filter(phase=Phase.MAINTENANCE).order_by("starts_at").select_related("plan__protocol")[0]
    assert first.sequence == 7
    assert session_label(first) == "Maintenance (session 7 of the course)"


def test_a_session_no_longer_held_says_what_became_of_it_without_its_number():
    # Its number is taken over by its replacement; the chart and SCH-7 say cancelled, missed or
    # released with the plan (not "released" for a session the desk cancelled).
    clinic = make_clinic()
    plan = clinic.plan()
    course = course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    appointment_cancel(appointment=course[3], actor=clinic.front_desk.user, reason="Away", now=NOW)
    course[4].status = AppointmentStatus.NO_SHOW
    course[5].status = AppointmentStatus.CANCELLED
    course[5].released_with_plan = ReleasedWithPlan.PAUSED
    course[3].refresh_from_db()
    assert [session_label(a) for a in course[3:]] == [
        "Cancelled induction session",
        "Missed induction session (no-show)",
        "Released induction session",
    ]
