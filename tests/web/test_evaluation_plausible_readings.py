"""Tester's #8: an evaluation with a diastolic at or above the systolic ("BP 80/120") or an ICD-10
code that is not one ("banana") was saved. The model refuses both (full_clean: the chart page, the
API's serializer, the admin's form and evaluation_record all run it), and its blood-pressure and
heart-rate ranges are the session vitals' (clinical.services.PLAUSIBLE)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clinic.errors import InvalidInput
from clinical.services import PLAUSIBLE as SESSION_VITALS_PLAUSIBLE
from patients.models import SCREENING_PLAUSIBLE, Evaluation
from patients.services import evaluation_record
from tests.web.conftest import login
from tests.web.test_evaluations import GOOD

NOW = dt.datetime(2026, 2, 27, 15, tzinfo=dt.UTC)


def test_the_screening_ranges_are_the_session_vitals_ranges():
    # patients may not import clinical (the floors run down), so the ranges are written twice:
    # this keeps the two copies one rule.
    assert {
        "systolic_bp": SESSION_VITALS_PLAUSIBLE["systolic"],
        "diastolic_bp": SESSION_VITALS_PLAUSIBLE["diastolic"],
        "heart_rate": SESSION_VITALS_PLAUSIBLE["heart_rate"],
    } == SCREENING_PLAUSIBLE


@pytest.mark.parametrize(
    ("readings", "field", "message"),
    [
        ({"systolic_bp": "80", "diastolic_bp": "120"}, "diastolic_bp", "Diastolic 120 must be below systolic 80"),
        ({"systolic_bp": "120", "diastolic_bp": "120"}, "diastolic_bp", "Diastolic 120 must be below systolic 120"),
        ({"systolic_bp": "55"}, "systolic_bp", "55 is not plausible; expected 60–260."),
        ({"systolic_bp": "280"}, "systolic_bp", "280 is not plausible; expected 60–260."),
        ({"diastolic_bp": "25"}, "diastolic_bp", "25 is not plausible; expected 30–160."),
        ({"heart_rate": "22"}, "heart_rate", "22 is not plausible; expected 25–250."),
        ({"icd10_code": "banana"}, "icd10_code", "e.g. F32.9"),
        ({"icd10_code": "F32.12345"}, "icd10_code", "e.g. F32.9"),
        ({"icd10_code": "32.9"}, "icd10_code", "e.g. F32.9"),
    ],
)
def test_the_page_refuses_impossible_readings_and_codes_next_to_the_field(client, web, readings, field, message):
    login(client, web.prescriber.user)
    response = client.post(reverse("web:evaluation-new", args=[web.patient_a.pk]), {**GOOD, **readings})
    assert response.status_code == 400
    [error] = response.context["form"].errors[field]
    assert message in error
    assert message in response.content.decode().replace("&ndash;", "–")
    assert not Evaluation.objects.filter(evaluator_name="Dr Ruth Okafor").exists()


@pytest.mark.parametrize("code", ["F32.9", "F33.1", "F43.10", "G89.4", "M79.7", "F329", "f43.10", " F33.2 ", ""])
def test_real_icd10_codes_are_kept_written_the_usual_way(web, code):
    evaluation = evaluation_record(
        patient=web.patient_a,
        actor=web.prescriber.user,
        fields={**GOOD, "evaluated_on": dt.date(2026, 2, 20), "icd10_code": code},
        now=NOW,
    )
    assert evaluation.icd10_code == code.strip().upper()


def test_the_service_refuses_a_diastolic_above_the_systolic(web):
    with pytest.raises(InvalidInput) as caught:
        evaluation_record(
            patient=web.patient_a,
            actor=web.prescriber.user,
            fields={**GOOD, "evaluated_on": dt.date(2026, 2, 20), "systolic_bp": 80, "diastolic_bp": 120},
            now=NOW,
        )
    assert "Diastolic 120 must be below systolic 80" in caught.value.message
    assert not Evaluation.objects.filter(evaluator_name="Dr Ruth Okafor").exists()


def test_the_model_refuses_them_for_the_admin_too(web):
    evaluation = Evaluation(
        patient=web.patient_a,
        recorded_by=web.prescriber.user,
        evaluated_on=dt.date(2026, 2, 20),
        evaluator_name="Dr Ruth Okafor",
        diagnosis="Depression",
        icd10_code="banana",
        systolic_bp=80,
        diastolic_bp=120,
    )
    with pytest.raises(ValidationError) as caught:
        evaluation.full_clean()
    assert set(caught.value.message_dict) == {"icd10_code", "diastolic_bp"}
