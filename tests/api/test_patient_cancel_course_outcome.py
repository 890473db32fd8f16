"""What a cancel over the API tells the asker about the course. The flag a course-short cancel raises
on the plan, and its reason, are the clinicians' (clinic.permissions.FIELD_READERS: the plan API nulls
them for a patient, the portal never shows them): a patient who cancels their own induction session
is told what the portal tells them, that the clinic will contact them, while the desk still gets the
course's outcome in full. The schema says which fields a patient's answer leaves null.

The clock is fixed at the page tests' NOW (Friday 27 February 2026, 15:00 UTC; the course from Monday 2 March)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from scheduling.api import appointments as appointments_api
from tests.web.conftest import frozen, web  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_patients_own_api_cancel_does_not_tell_them_the_clinicians_flag_or_its_reason(web):  # noqa: F811
    client = _api(web.patient_a.user)
    response = client.post(f"/api/v1/appointments/{web.sessions_a[2].pk}/cancel/", {}, format="json")
    assert response.status_code == 200, response.content

    web.plan_a.refresh_from_db()
    assert web.plan_a.needs_attention  # the cancel did flag the plan for the clinician
    reason = web.plan_a.attention_reason

    # What the plan API shows this patient: neither the flag nor its reason.
    plan = client.get(f"/api/v1/plans/{web.plan_a.pk}/").json()
    assert plan.get("needs_attention") is None and not plan.get("attention_reason")

    # The cancel's answer says no more than the plan API does: the portal's words, nothing of the course.
    body = response.content.decode()
    outcome = response.json()["course_outcome"]
    assert outcome == {
        "summary": appointments_api.PATIENT_COURSE_SUMMARY,
        "short_by": None,
        "rebooked": [],
        "replacement_starts_at": None,
        "replacement_why": None,
        "replacement_chair": None,
        "replacement_nurse": None,
        "plan_flagged": None,
    }
    assert "flagged for the clinician" not in body
    assert "short by" not in body
    assert outcome["summary"] not in reason


def test_the_front_desks_cancel_still_gives_the_course_outcome_in_full(web):  # noqa: F811
    response = _api(web.desk.user).post(
        f"/api/v1/appointments/{web.sessions_a[2].pk}/cancel/", {"reason": "Patient unwell"}, format="json"
    )
    assert response.status_code == 200, response.content

    web.plan_a.refresh_from_db()
    outcome = response.json()["course_outcome"]
    assert outcome["plan_flagged"] is True and outcome["short_by"] == 1
    assert outcome["replacement_starts_at"]
    assert outcome["summary"] and outcome["summary"] in web.plan_a.attention_reason


def test_a_patients_retried_cancel_is_answered_in_the_same_words(web):  # noqa: F811
    client = _api(web.patient_a.user)
    url = f"/api/v1/appointments/{web.sessions_a[2].pk}/cancel/"
    assert client.post(url, {}, format="json").status_code == 200
    again = client.post(url, {}, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["course_outcome"]["summary"] == appointments_api.PATIENT_COURSE_SUMMARY


def test_the_schema_says_which_course_fields_a_patients_answer_leaves_null(tmp_path):
    path = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(path))
    outcome = json.loads(path.read_text())["components"]["schemas"]["CourseOutcome"]
    for name in (
        "short_by",
        "replacement_starts_at",
        "replacement_why",
        "replacement_chair",
        "replacement_nurse",
        "plan_flagged",
    ):
        assert outcome["properties"][name].get("nullable") is True, name
        assert "patient" in outcome["properties"][name]["description"], name
    assert "patient" in outcome["properties"]["summary"]["description"]
