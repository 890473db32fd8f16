"""The questionnaire and outcome endpoints against every persona."""

from __future__ import annotations

import datetime as dt

import pytest

from measures.models import QuestionnaireResponse, Source
from tests.measures.conftest import LATER, PHQ9_SEVERE, ROLES, phq9

V1 = "/api/v1"
CLINICIANS = {"nurse", "prescriber"}


@pytest.fixture
def response_a(world):
    return world.record(world.patient_a, "phq9", PHQ9_SEVERE, world.sessions_a[0].starts_at - dt.timedelta(days=1))


def _error(response) -> dict:
    return response.json()["error"]


# --- Who may list and read ----------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_list(world, response_a, role):
    world.record(world.patient_b, "gad7", [1] * 7, LATER - dt.timedelta(days=1))
    response = world.client(role).get(f"{V1}/questionnaire-responses/")
    if role in CLINICIANS:
        assert response.status_code == 200 and response.json()["count"] == 2
    elif role == "patient_a":
        results = response.json()["results"]
        assert [r["id"] for r in results] == [response_a.pk]
        assert results[0]["total_score"] == 18 and results[0]["severity"] == "moderately_severe"
    elif role == "patient_b":
        assert [r["instrument"] for r in response.json()["results"]] == ["gad7"]
    else:
        assert response.status_code == 403
        assert _error(response)["code"] == "permission_denied"


@pytest.mark.parametrize("role", ROLES)
def test_retrieve_patient_a_response(world, response_a, role):
    response = world.client(role).get(f"{V1}/questionnaire-responses/{response_a.pk}/")
    expected = {"nurse": 200, "prescriber": 200, "patient_a": 200, "patient_b": 404}.get(role, 403)
    assert response.status_code == expected
    if expected == 404:
        assert _error(response)["code"] == "not_found"


def test_anonymous_is_told_to_sign_in(world):
    from rest_framework.test import APIClient

    assert APIClient().get(f"{V1}/questionnaire-responses/").status_code == 401


# --- Submitting ----------------------------------------------------------------


def test_patient_submits_their_own_questionnaire(world):
    response = world.client("patient_a").post(
        f"{V1}/questionnaire-responses/", {"instrument": "gad7", "answers": [3, 3, 2, 2, 2, 2, 1]}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["patient"], body["total_score"], body["severity"], body["source"]) == (
        world.patient_a.pk,
        15,
        "severe",
        "portal",
    )
    assert body["entered_by"] == world.user("patient_a").pk
    assert body["completed_at"].startswith("2026-04-20T15:00")


def test_patient_b_submitting_for_patient_a_gets_404_and_nothing_is_stored(world):
    response = world.client("patient_b").post(
        f"{V1}/questionnaire-responses/",
        {"patient": world.patient_a.pk, "instrument": "pain", "answers": [5]},
        format="json",
    )
    assert response.status_code == 404
    assert not QuestionnaireResponse.objects.exists()


def test_patient_cannot_link_another_patients_session(world):
    response = world.client("patient_b").post(
        f"{V1}/questionnaire-responses/",
        {"instrument": "pain", "answers": [5], "appointment": world.sessions_a[0].pk},
        format="json",
    )
    assert response.status_code == 400
    assert "appointment" in _error(response)["fields"]


def test_a_patient_cannot_date_their_answers_back_nor_give_them_for_a_session_already_held(world):
    """A patient's answers dated weeks back, or given "for" the first session after it, would become
    the course's pre-treatment baseline: the date is refused, and a past session is not linked."""
    client = world.client("patient_a")
    backdated = client.post(
        f"{V1}/questionnaire-responses/",
        {"instrument": "phq9", "answers": phq9(3), "completed_at": "2026-02-20T15:00:00Z"},
        format="json",
    )
    assert backdated.status_code == 400 and "completed_at" in _error(backdated)["fields"]
    assert not QuestionnaireResponse.objects.exists()

    late = client.post(
        f"{V1}/questionnaire-responses/",
        {"instrument": "phq9", "answers": phq9(3), "appointment": world.sessions_a[0].pk},
        format="json",
    )
    assert late.status_code == 201, late.json()
    assert late.json()["appointment"] is None  # the first session was seven weeks ago (clock: 20 April)


@pytest.mark.parametrize("role", ["nurse", "prescriber"])
def test_clinician_submits_for_a_patient_linked_to_a_session(world, role):
    session = world.sessions_a[0]
    response = world.client(role).post(
        f"{V1}/questionnaire-responses/",
        {
            "patient": world.patient_a.pk,
            "instrument": "phq9",
            "answers": phq9(12, item9=1),
            "appointment": session.pk,
            "completed_at": "2026-03-02T13:30:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["source"], body["appointment"], body["flags"]) == ("staff", session.pk, ["self_harm_thoughts"])
    assert body["flag_labels"] == ["Self-harm thoughts reported (PHQ-9 item 9)"]
    assert QuestionnaireResponse.objects.get().source == Source.STAFF


@pytest.mark.parametrize("role", ["front_desk", "clinic_admin"])
def test_desk_and_admin_cannot_submit(world, role):
    response = world.client(role).post(
        f"{V1}/questionnaire-responses/",
        {"patient": world.patient_a.pk, "instrument": "pain", "answers": [5]},
        format="json",
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"instrument": "phq9", "answers": [1] * 8}, "answers", "PHQ-9 has 9 items; 8 answers given."),
        ({"instrument": "pcl5", "answers": [9] * 20}, "answers", "PCL-5 item 1: 9 is outside 0–4."),
        ({"instrument": "pain", "answers": ["x"]}, "answers", "Pain (0–10) item 1: 'x' is not a whole number."),
        ({"instrument": "bdi", "answers": [1]}, "instrument", None),
        ({"instrument": "pain", "answers": [1], "completed_at": "2026-05-01T00:00:00Z"}, "completed_at", None),
        ({"instrument": "pain"}, "answers", None),
    ],
)
def test_invalid_submissions_answer_400_in_the_error_shape(world, body, field, message):
    response = world.client("nurse").post(
        f"{V1}/questionnaire-responses/", {"patient": world.patient_a.pk, **body}, format="json"
    )
    assert response.status_code == 400, response.json()
    error = _error(response)
    assert error["code"] == "invalid" and field in error["fields"]
    if message:
        assert error["fields"][field] == [message]


def test_clinician_must_name_the_patient(world):
    response = world.client("nurse").post(
        f"{V1}/questionnaire-responses/", {"instrument": "pain", "answers": [1]}, format="json"
    )
    assert response.status_code == 400 and "patient" in _error(response)["fields"]


def test_clinician_submitting_for_unknown_patient_gets_404(world):
    response = world.client("nurse").post(
        f"{V1}/questionnaire-responses/", {"patient": 999999, "instrument": "pain", "answers": [1]}, format="json"
    )
    assert response.status_code == 404


# --- Outcome summary -----------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_outcome_summary_is_for_clinicians_only(world, response_a, role):
    response = world.client(role).get(f"{V1}/patients/{world.patient_a.pk}/outcomes/")
    assert response.status_code == (200 if role in CLINICIANS else 403)


def test_outcome_summary_content(world):
    from scheduling.models import Phase, PlanStatus, TreatmentPlan

    TreatmentPlan.objects.filter(pk=world.plan_a.pk).update(phase=Phase.MAINTENANCE, status=PlanStatus.ACTIVE)
    first = world.sessions_a[0]
    world.record(world.patient_a, "phq9", phq9(20), first.starts_at - dt.timedelta(days=1))
    world.record(world.patient_a, "phq9", phq9(4), first.starts_at + dt.timedelta(days=20))
    world.record(world.patient_a, "phq9", phq9(14, item9=2), LATER - dt.timedelta(days=1))
    body = world.client("prescriber").get(f"{V1}/patients/{world.patient_a.pk}/outcomes/").json()
    (phq,) = body["outcomes"]
    assert (phq["baseline"]["total"], phq["latest"]["total"], phq["reduction_pct"]) == (20, 14, 30.0)
    assert (phq["response"], phq["remission"], phq["lost_response"]) == (False, False, True)
    assert body["interval_suggestion"] == {
        "current_days": 28,
        "suggested_days": 21,
        "at_minimum": False,
        "instruments": ["phq9"],
    }
    assert body["flags"][0]["flags"] == ["self_harm_thoughts"]
    assert body["plan"] == world.plan_a.pk


def test_outcome_summary_of_unknown_patient_is_404(world):
    assert world.client("nurse").get(f"{V1}/patients/999999/outcomes/").status_code == 404
