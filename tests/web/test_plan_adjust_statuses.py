"""The chart's plan form answers a refused change with the status the API gives the same refusal
(clinic/api_errors.py answers a DomainError with its own `http_status`): a change that is the
prescriber's decision is a 403, a state conflict (the plan changed since the form was drawn) a 409,
a bad input (a resume date too soon) a 400; the page shows the service's message each time."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from scheduling.models import Phase, PlanStatus
from tests.scheduling.conftest import induction_completed_while_paused
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def _api_answer(user, path: str, body: dict) -> int:
    api = APIClient()
    api.force_authenticate(user)
    return api.post(f"/api/v1/plans/{path}", body, format="json").status_code


def _resume_both_ways(client, web, user, resume: dt.date, *, at: dt.datetime):
    """The same resume of plan A asked by `user` at `at`, through the API and on the chart: the
    API's status and the chart's response."""
    with time_machine.travel(at, tick=False):
        api_status = _api_answer(
            user,
            f"{web.plan_a.pk}/resume/",
            {"resume_date": resume.isoformat(), "reason": "Back", "version": web.plan_a.version},
        )
        login(client, user)
        chart = client.post(
            reverse("web:plan-adjust", args=[web.plan_a.pk]),
            {"action": "resume", "from_date": resume.isoformat(), "reason": "Back", "version": web.plan_a.version},
        )
    return api_status, chart


def test_a_nurses_resume_into_maintenance_on_the_chart_is_a_403_with_the_message_as_in_the_api(client, web):
    last = induction_completed_while_paused(web.plan_a, web.sessions_a, pauser=web.nurse.user)
    back = last.starts_at.astimezone(web.clinic.site.zone).date() + dt.timedelta(days=30)

    api_status, refused = _resume_both_ways(client, web, web.nurse.user, back, at=last.ends_at + dt.timedelta(days=1))

    assert (refused.status_code, api_status) == (403, 403)
    assert "Resuming this plan into maintenance (its induction was completed during the pause)" in (
        refused.content.decode()
    )
    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.PAUSED and web.plan_a.phase == Phase.INDUCTION


def test_a_stale_plan_form_on_the_chart_stays_a_409_as_in_the_api(client, web):
    web.plan_a.refresh_from_db()
    stale = web.plan_a.version - 1
    api_status = _api_answer(web.nurse.user, f"{web.plan_a.pk}/pause/", {"reason": "Flu", "version": stale})
    login(client, web.nurse.user)
    refused = client.post(
        reverse("web:plan-adjust", args=[web.plan_a.pk]), {"action": "pause", "reason": "Flu", "version": stale}
    )

    assert (refused.status_code, api_status) == (409, 409)
    assert "changed by someone else" in refused.content.decode()
    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.ACTIVE


def test_a_resume_date_too_soon_on_the_chart_is_a_400_as_in_the_api(client, web):
    last = induction_completed_while_paused(web.plan_a, web.sessions_a, pauser=web.nurse.user)
    too_soon = last.starts_at.astimezone(web.clinic.site.zone).date() + dt.timedelta(days=2)

    api_status, refused = _resume_both_ways(
        client, web, web.prescriber.user, too_soon, at=last.ends_at + dt.timedelta(hours=1)
    )

    assert (refused.status_code, api_status) == (400, 400)
    assert "Resume on or after" in refused.content.decode()
    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.PAUSED
