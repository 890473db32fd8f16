"""Bad input on the registration and evaluation pages (dates out of range, phone numbers, over-long
or control-character text, unknown zones, sites and channels, implausible vitals) is a form error
(400) that writes nothing, never a 500."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from patients.models import Evaluation, Patient
from tests.web.registration import ANCHOR, registration_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(ANCHOR, tick=False):
        yield ANCHOR


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date_of_birth", "2030-01-01"),
        ("date_of_birth", "1899-12-31"),
        ("date_of_birth", "1900-01-01"),
        ("date_of_birth", "1900-06-01"),
        ("date_of_birth", "0001-01-01"),
        ("date_of_birth", "99999-01-01"),
        ("date_of_birth", "2026-03-04"),
        ("mobile_phone", "12345"),
        ("mobile_phone", "+1" + "2" * 200),
        ("escort_phone", "not a phone"),
        ("first_name", "x" * 101),
        ("first_name", "Da\x00na"),
        ("first_name", "Da\x1bna"),
        ("last_name", "No\nvak"),
        ("time_zone", "Mars/Base"),
        ("time_zone", "x" * 70),
        ("email", "a" * 250 + "@example.org"),
        ("escort_name", "y" * 121),
        ("emergency_contact_relation", "z" * 61),
        ("home_site", "999999"),
        ("home_site", "abc"),
        ("preferred_channel", "fax"),
    ],
)
def test_bad_registration_input_is_a_form_error(client, personas, frozen, field, value):
    client.force_login(personas.front_desk.user)
    # Counted before and after: this request writes no chart (a persona may have any Faker name).
    before = Patient.objects.count()
    response = client.post(reverse("web:patient-register"), registration_form(personas.site, **{field: value}))
    assert response.status_code == 400, response.content[:500]
    assert Patient.objects.count() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("evaluated_on", "2030-01-01"),
        ("evaluated_on", "1999-12-31"),
        ("evaluated_on", "99999-01-01"),
        ("systolic_bp", "40000"),
        ("systolic_bp", "-5"),
        ("systolic_bp", "400"),
        ("heart_rate", "1e3"),
        ("diagnosis", ""),
        ("diagnosis", "d" * 201),
        ("icd10_code", "F" * 11),
        ("evaluator_name", "Dr\x00 X"),
    ],
)
def test_bad_evaluation_input_is_a_form_error(client, personas, frozen, field, value):
    patient = personas.patient_a
    client.force_login(personas.prescriber.user)
    data = {
        "evaluated_on": "2026-03-02",
        "evaluator_name": "Dr. Rivera",
        "diagnosis": "MDD",
        "systolic_bp": "120",
        "diastolic_bp": "80",
        "heart_rate": "70",
        field: value,
    }
    before = Evaluation.objects.count()
    response = client.post(reverse("web:evaluation-new", args=[patient.pk]), data)
    assert response.status_code == 400, response.content[:500]
    assert Evaluation.objects.count() == before
