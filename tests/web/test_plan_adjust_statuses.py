"""The chart's plan form answers a refused change with the status the API gives the same refusal
(clinic/api_errors.py answers a DomainError with its own `http_status`): a change that is the
prescriber's decision is a 403, a state conflict (the plan changed since the form was drawn) a 409,
a bad input (a resume date too soon) a 400; the page shows the service's message each time. The
form's own choices (the changes the plan's state and the clinician's role allow now) do not hide
those answers: a change posted from a page drawn before someone else changed the plan is the API's
409, and a prescriber's change hand-posted by a nurse the API's 403."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils.html import escape
from rest_framework.test import APIClient

from clinic.permissions import PrescribersOnly
from scheduling.models import Phase, PlanStatus
from scheduling.services import plan_change_interval, plan_end, plan_pause
from tests.scheduling.conftest import induction_completed_while_paused
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def _api_refusal(user, path: str, body: dict) -> tuple[int, str]:
    """The API's status and error message for the same change."""
    api = APIClient()
    api.force_authenticate(user)
    answer = api.post(f"/api/v1/plans/{path}", body, format="json")
    return answer.status_code, answer.json().get("error", {}).get("message", "")


def _api_answer(user, path: str, body: dict) -> int:
    return _api_refusal(user, path, body)[0]


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


def test_a_pause_posted_from_a_page_drawn_before_another_clinicians_pause_is_a_409_as_in_the_api(client, web, frozen):
    # The nurse's page shows the plan active and offers "pause"; a prescriber pauses it meanwhile.
    web.plan_a.refresh_from_db()
    drawn = web.plan_a.version
    plan_pause(plan=web.plan_a, reason="Travel", actor=web.prescriber.user, now=frozen, expected_version=drawn)

    api_status, api_message = _api_refusal(
        web.nurse.user, f"{web.plan_a.pk}/pause/", {"reason": "Flu", "version": drawn}
    )
    login(client, web.nurse.user)
    refused = client.post(
        reverse("web:plan-adjust", args=[web.plan_a.pk]), {"action": "pause", "reason": "Flu", "version": drawn}
    )

    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.PAUSED
    assert (refused.status_code, api_status) == (409, 409)
    page = refused.content.decode()
    assert "changed by someone else" in api_message and escape(api_message) in page
    assert "Select a valid choice" not in page
    # The form drawn again is the plan as it stands: its version, and the changes a paused plan offers.
    form = refused.context["adjust_form"]
    assert not form.is_bound and form.initial["version"] == web.plan_a.version
    assert "pause" not in dict(form.fields["action"].choices)


@pytest.mark.parametrize(
    ("action", "fields", "path", "change"),
    [
        ("end", {}, "end/", lambda plan, **common: plan_end(plan=plan, **common)),
        (
            "interval",
            {"interval_days": 21},
            "change-interval/",
            lambda plan, **common: plan_change_interval(plan=plan, days=21, **common),
        ),
    ],
)
def test_a_prescribers_change_hand_posted_by_a_nurse_is_a_403_with_the_services_message(
    client, web, frozen, action, fields, path, change
):
    # The form does not offer a nurse these changes; the API refuses her the endpoint (403) and the
    # service refuses her the decision, whose message the chart shows.
    web.plan_a.refresh_from_db()
    version = web.plan_a.version
    with pytest.raises(PrescribersOnly) as service:
        change(web.plan_a, reason="Better", actor=web.nurse.user, now=frozen, expected_version=version)
    api_status = _api_answer(web.nurse.user, f"{web.plan_a.pk}/{path}", {"reason": "Better", "version": version})
    login(client, web.nurse.user)
    refused = client.post(
        reverse("web:plan-adjust", args=[web.plan_a.pk]),
        {"action": action, "reason": "Better", "version": version, **fields},
    )

    assert (refused.status_code, api_status) == (403, 403)
    page = refused.content.decode()
    assert "is a prescriber's decision" in service.value.message and escape(service.value.message) in page
    assert "Select a valid choice" not in page
    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.ACTIVE and web.plan_a.version == version


def test_a_prescribers_change_from_a_stale_page_is_still_a_403_as_in_the_api(client, web, frozen):
    # The API asks whose decision it is before it compares versions; the chart answers in the same order.
    web.plan_a.refresh_from_db()
    drawn = web.plan_a.version
    plan_pause(plan=web.plan_a, reason="Travel", actor=web.prescriber.user, now=frozen, expected_version=drawn)

    api_status = _api_answer(web.nurse.user, f"{web.plan_a.pk}/end/", {"reason": "Done", "version": drawn})
    login(client, web.nurse.user)
    refused = client.post(
        reverse("web:plan-adjust", args=[web.plan_a.pk]), {"action": "end", "reason": "Done", "version": drawn}
    )

    assert (refused.status_code, api_status) == (403, 403)
    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.PAUSED


@pytest.mark.parametrize("who", ["nurse", "prescriber"])
def test_a_pause_from_a_page_with_the_current_version_is_made(client, web, who):
    web.plan_a.refresh_from_db()
    login(client, getattr(web, who).user)
    made = client.post(
        reverse("web:plan-adjust", args=[web.plan_a.pk]),
        {"action": "pause", "reason": "Flu", "version": web.plan_a.version},
    )

    assert made.status_code == 302
    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.PAUSED


def test_a_prescribers_end_from_a_page_with_the_current_version_is_made(client, web):
    web.plan_a.refresh_from_db()
    login(client, web.prescriber.user)
    made = client.post(
        reverse("web:plan-adjust", args=[web.plan_a.pk]),
        {"action": "end", "reason": "Course complete", "version": web.plan_a.version},
    )

    assert made.status_code == 302
    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.ENDED
