"""The plan changes' answers tell the clinician what the change left for them to decide: a review
date brought forward past a confirmed session, a resume after the review date that booked nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduling import services
from scheduling.models import Phase
from tests.api.conftest import client_of
from tests.scheduling.conftest import START, into_maintenance, make_clinic

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def _into_maintenance(clinic, **plan_kwargs):
    plan, booked = into_maintenance(clinic, maintenance_interval_days=28, **plan_kwargs)
    return plan, booked[-1].ends_at + dt.timedelta(hours=1)


def test_bringing_the_review_date_forward_past_a_confirmed_session_answers_with_the_plan_flagged():
    clinic = make_clinic()
    plan, now = _into_maintenance(clinic)
    first, second, *_ = plan.appointments.filter(phase=Phase.MAINTENANCE).order_by("starts_at")
    services.appointment_confirm(appointment=second, actor=None, now=now)
    new_review = first.starts_at.astimezone(clinic.site.zone).date() + dt.timedelta(days=7)
    plan.refresh_from_db()

    with time_machine.travel(now, tick=False):
        response = client_of(clinic.prescriber).post(
            f"{V1}/plans/{plan.pk}/change-review-date/",
            {"review_date": new_review.isoformat(), "reason": "Dependence concern", "version": plan.version},
            format="json",
        )
    assert response.status_code == 200, response.json()
    answer = response.json()["plan"]
    assert answer["needs_attention"] is True
    assert "confirmed 1 session after it" in answer["attention_reason"], answer["attention_reason"]


def test_resuming_after_the_review_date_answers_why_nothing_was_booked():
    clinic = make_clinic()
    review = START + dt.timedelta(days=80)
    plan, now = _into_maintenance(clinic, review_date=review)
    services.plan_pause(plan=plan, reason="Unwell", actor=clinic.prescriber.user, now=now)
    plan.refresh_from_db()

    with time_machine.travel(now + dt.timedelta(days=1), tick=False):
        response = client_of(clinic.nurses[0]).post(
            f"{V1}/plans/{plan.pk}/resume/",
            {
                "resume_date": (review + dt.timedelta(days=10)).isoformat(),
                "reason": "Recovered",
                "version": plan.version,
            },
            format="json",
        )
    assert response.status_code == 200, response.json()
    assert response.json()["appointments"] == []
    reason = response.json()["plan"]["attention_reason"]
    assert f"review date ({review:%a %-d %b %Y}) has passed" in reason, reason
