"""POST /api/v1/evaluations/ records through patients.services.evaluation_record, the one place an
evaluation is recorded (the chart page calls it too): the history names the acting prescriber and
that it came through the API, bad input is a 400 naming the field (a date before 2000 or after
the clinic's today too, both the service's refusals), and the service's own prescriber check
stands behind the view's access table."""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext

import pytest
import time_machine
from knox.models import AuthToken

from clinic.models import Role
from clinic.permissions import CLINICIANS
from patients.api import EvaluationViewSet
from patients.models import Evaluation
from tests.api.conftest import World

V1 = "/api/v1"


def evaluation_body(world: World, **changes) -> dict:
    body = {
        "patient": world.plan_b.patient_id,
        "evaluated_on": "2026-02-20",
        "evaluator_name": "Dr Ruth Okafor",
        "evaluator_credentials": "MD, psychiatrist",
        "diagnosis": "Treatment-resistant major depressive disorder",
        "icd10_code": "F33.2",
        "systolic_bp": 128,
        "diastolic_bp": 82,
        "heart_rate": 74,
    }
    return {**body, **changes}


def recorded_by_okafor():
    return Evaluation.objects.filter(evaluator_name="Dr Ruth Okafor")


def test_an_evaluation_recorded_through_the_api_names_the_prescriber_and_the_api_in_its_history(world):
    response = world.client("prescriber").post(f"{V1}/evaluations/", evaluation_body(world), format="json")
    assert response.status_code == 201, response.content
    evaluation = Evaluation.objects.get(pk=response.json()["id"])
    prescriber = world.users["prescriber"]
    assert (evaluation.patient_id, evaluation.recorded_by, evaluation.icd10_code) == (
        world.plan_b.patient_id,
        prescriber,
        "F33.2",
    )
    assert response.json()["recorded_by"] == prescriber.pk
    [record] = evaluation.history.all()
    assert (record.history_type, record.history_user, record.history_change_reason) == (
        "+",
        prescriber,
        "Recorded through the API",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("diagnosis", ""),
        ("systolic_bp", 400),
        ("heart_rate", 5),
        ("evaluator_name", None),
    ],
)
def test_an_invalid_evaluation_is_a_400_naming_the_field_and_records_nothing(world, field, value):
    response = world.client("prescriber").post(
        f"{V1}/evaluations/", evaluation_body(world, **{field: value}), format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"] and error["message"].startswith(f"Invalid input: {field}: ")
    assert not recorded_by_okafor().exists()


@pytest.mark.parametrize(
    ("moment", "evaluated_on"),
    [
        # The fixtures' clock: Friday 27 Feb 2026, 10:00 in New York, the patient's home site.
        (None, "2026-02-28"),
        # 22:00 on 27 Feb in New York is already 28 Feb in UTC: still tomorrow at the clinic.
        (dt.datetime(2026, 2, 28, 3, tzinfo=dt.UTC), "2026-02-28"),
    ],
)
def test_an_evaluation_dated_after_the_clinics_today_is_a_400_naming_the_date_and_records_nothing(
    world, moment, evaluated_on
):
    with nullcontext() if moment is None else time_machine.travel(moment, tick=False):
        response = world.client("prescriber").post(
            f"{V1}/evaluations/", evaluation_body(world, evaluated_on=evaluated_on), format="json"
        )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid", "evaluated_on")
    assert "28 Feb 2026" in error["message"] and "in the future" in error["message"]
    assert not recorded_by_okafor().exists()
    assert not Evaluation.history.filter(evaluator_name="Dr Ruth Okafor").exists()


def test_an_evaluation_dated_before_2000_is_the_services_refusal_naming_the_date(world):
    # The rule lives in patients.services.evaluation_date_check, so the API gives the chart page's
    # and the admin's message, in the shape of the service's other date refusal.
    response = world.client("prescriber").post(
        f"{V1}/evaluations/", evaluation_body(world, evaluated_on="1999-12-31"), format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid", "evaluated_on")
    assert error["message"].startswith("The evaluation date 31 Dec 1999 is before 2000: check the year")
    assert not recorded_by_okafor().exists()


def test_the_service_refuses_a_nurse_even_where_the_access_table_would_let_them_through(world, monkeypatch):
    # The access table is the first gate; if it is ever widened by mistake, the service still refuses.
    monkeypatch.setattr(EvaluationViewSet, "access", {**EvaluationViewSet.access, "create": CLINICIANS})
    response = world.client("nurse").post(f"{V1}/evaluations/", evaluation_body(world), format="json")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "prescriber_only"
    assert "prescriber" in response.json()["error"]["message"]
    assert not recorded_by_okafor().exists()


@pytest.mark.parametrize("change", ["role", "active"])
def test_a_prescriber_whose_role_changed_or_who_left_records_no_evaluation(world, change):
    staff = world.users["prescriber"].staff
    if change == "role":
        staff.role = Role.NURSE
    else:
        staff.active = False
    staff.save()
    client = world.client("prescriber")
    # The change of role, or the deactivation, revoked the token issued to the prescriber; a new one
    # is a nurse's, or an inactive member's.
    assert client.post(f"{V1}/evaluations/", evaluation_body(world), format="json").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=staff.user)[1]}")
    response = client.post(f"{V1}/evaluations/", evaluation_body(world), format="json")
    assert response.status_code == 403
    assert not recorded_by_okafor().exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"systolic_bp": 80, "diastolic_bp": 120}, "diastolic_bp", "Diastolic 120 must be below systolic 80"),
        ({"systolic_bp": 55}, "systolic_bp", "60"),
        ({"icd10_code": "banana"}, "icd10_code", "e.g. F32.9"),
    ],
    ids=["diastolic above systolic", "systolic below the session vitals' range", "not an ICD-10 code"],
)
def test_an_impossible_reading_or_code_is_a_400_naming_the_field(world, changes, field, message):
    # Tester's #8: the API refuses what the chart page refuses (the model's full_clean).
    response = world.client("prescriber").post(f"{V1}/evaluations/", evaluation_body(world, **changes), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"] and message in error["message"]
    assert not recorded_by_okafor().exists()
