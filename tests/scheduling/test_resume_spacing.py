"""Resuming a paused plan keeps the protocol's spacing from the last session held: the chart's
default resume date satisfies it, and a date given (page, API or script) is checked."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from clinic.errors import InvalidInput
from scheduling import services
from scheduling.models import Phase
from tests.clinical_helpers import record_session_for_completion
from tests.scheduling.conftest import NOW, START
from tests.web.conftest import login

NY = ZoneInfo("America/New_York")


def _paused_in_maintenance(clinic):
    plan = clinic.plan()
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    for session in booked:
        services.appointment_check_in(appointment=session, actor=None, now=session.starts_at)
        record_session_for_completion(session)
        services.appointment_complete(appointment=session, actor=None, now=session.ends_at)
    now = booked[-1].ends_at
    services.plan_pause(plan=plan, reason="Holiday", actor=clinic.prescriber.user, now=now)
    plan.refresh_from_db()
    assert plan.phase == Phase.MAINTENANCE
    return plan, booked[-1].starts_at.astimezone(NY).date(), now


def test_resuming_closer_to_the_last_session_than_the_protocol_allows_is_refused(clinic):
    plan, last_held, now = _paused_in_maintenance(clinic)
    with pytest.raises(InvalidInput, match="14 days"):
        services.plan_resume(
            plan=plan,
            resume_date=last_held + dt.timedelta(days=5),
            reason="Back",
            actor=clinic.prescriber.user,
            now=now,
        )
    plan.refresh_from_db()
    assert plan.status == "paused"


def test_the_default_resume_date_keeps_the_spacing_and_books_no_session_too_early(client, clinic):
    plan, last_held, now = _paused_in_maintenance(clinic)
    login(client, clinic.prescriber.user)
    with time_machine.travel(now, tick=False):
        chart = client.get(reverse("web:patient", args=[plan.patient_id]))
        default = chart.context["adjust_form"].initial["from_date"]
        assert default >= last_held + dt.timedelta(days=14)
        assert default == last_held + dt.timedelta(days=plan.maintenance_interval_days)
        booked = services.plan_resume(
            plan=plan, resume_date=default, reason="Back", actor=clinic.prescriber.user, now=now
        )
    first = min(a.starts_at.astimezone(NY).date() for a in booked)
    assert first >= last_held + dt.timedelta(days=14)
