"""The plan changes' answers tell the clinician what the change left for them to decide: a review
date brought forward past a confirmed session, a resume after the review date that booked nothing;
a resume that would move the plan into maintenance is the prescriber's; and a course running past the
review date is refused, naming it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduling import services
from scheduling.models import Phase, PlanStatus
from tests.api.conftest import client_of
from tests.scheduling.conftest import NOW, START, induction_completed_while_paused, into_maintenance, make_clinic

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def _into_maintenance(clinic, **plan_kwargs):
    plan, booked = into_maintenance(clinic, maintenance_interval_days=28, **plan_kwargs)
    return plan, booked[-1].ends_at + dt.timedelta(hours=1)


def _change_review_date(clinic, plan, review_date, *, at):
    """The prescriber brings the plan's review date to `review_date` through the API at `at`: the plan
    answered."""
    with time_machine.travel(at, tick=False):
        response = client_of(clinic.prescriber).post(
            f"{V1}/plans/{plan.pk}/change-review-date/",
            {"review_date": review_date.isoformat(), "reason": "Dependence concern", "version": plan.version},
            format="json",
        )
    assert response.status_code == 200, response.json()
    return response.json()["plan"]


def test_bringing_the_review_date_forward_past_a_confirmed_session_answers_with_the_plan_flagged():
    clinic = make_clinic()
    plan, now = _into_maintenance(clinic)
    first, second, *_ = plan.appointments.filter(phase=Phase.MAINTENANCE).order_by("starts_at")
    services.appointment_confirm(appointment=second, actor=None, now=now)
    new_review = first.starts_at.astimezone(clinic.site.zone).date() + dt.timedelta(days=7)
    plan.refresh_from_db()

    answer = _change_review_date(clinic, plan, new_review, at=now)
    assert answer["needs_attention"] is True
    assert "confirmed 1 session after it" in answer["attention_reason"], answer["attention_reason"]


def test_bringing_the_review_date_forward_past_a_session_begun_answers_with_it_named():
    clinic = make_clinic()
    plan, _ = _into_maintenance(clinic)
    first = plan.appointments.filter(phase=Phase.MAINTENANCE).order_by("starts_at").first()
    services.appointment_check_in(appointment=first, actor=None, now=first.starts_at)
    new_review = first.starts_at.astimezone(clinic.site.zone).date() - dt.timedelta(days=1)
    plan.refresh_from_db()

    answer = _change_review_date(clinic, plan, new_review, at=first.starts_at)
    assert answer["needs_attention"] is True
    assert "1 session after it" in answer["attention_reason"], answer["attention_reason"]
    assert "already begun" in answer["attention_reason"], answer["attention_reason"]
    first.refresh_from_db()
    assert first.status == "checked_in"


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


def test_a_nurse_resuming_a_plan_into_maintenance_gets_403_and_a_prescriber_resumes_it():
    """Every induction session was held during the pause: the resume moves the plan into
    maintenance, the prescriber's decision, as changing the interval or the review date is."""
    clinic = make_clinic()
    plan = clinic.plan(maintenance_interval_days=28)
    course = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    last = induction_completed_while_paused(plan, course, pauser=clinic.nurses[0].user)
    body = {
        "resume_date": (last.starts_at.astimezone(clinic.site.zone).date() + dt.timedelta(days=30)).isoformat(),
        "reason": "Back from travel",
        "version": plan.version,
    }

    with time_machine.travel(last.ends_at + dt.timedelta(days=1), tick=False):
        refused = client_of(clinic.nurses[0]).post(f"{V1}/plans/{plan.pk}/resume/", body, format="json")
        assert refused.status_code == 403, refused.json()
        error = refused.json()["error"]
        assert error["code"] == "prescriber_only"
        assert "Resuming this plan into maintenance" in error["message"], error["message"]
        plan.refresh_from_db()
        assert plan.status == PlanStatus.PAUSED and plan.phase == Phase.INDUCTION

        response = client_of(clinic.prescriber).post(f"{V1}/plans/{plan.pk}/resume/", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["plan"]["phase"] == Phase.MAINTENANCE
    assert response.json()["appointments"], "the prescriber's resume laid out no maintenance"


def test_booking_a_course_that_runs_past_the_review_date_answers_409_naming_the_date():
    clinic = make_clinic()
    plan = clinic.plan(review_date=START + dt.timedelta(days=10))

    with time_machine.travel(NOW, tick=False):
        response = client_of(clinic.front_desk).post(
            f"{V1}/plans/{plan.pk}/book-course/", {"start_date": START.isoformat()}, format="json"
        )
    assert response.status_code == 409, response.json()
    body = response.json()["error"]
    # No whole course fits by the review date: none is proposed, so none is booked.
    assert body["code"] == "course_does_not_fit", body
    assert "after the plan's review date (Thu 12 Mar 2026)" in body["message"], body
    assert not plan.appointments.exists()
