"""Every refusal is an OperationOutcome with a clear message: POST Patient with a birthDate before
1900 says what is allowed, not the name of a database constraint."""

from __future__ import annotations

import json

import pytest

from tests.interop.fhir_support import BASE, FHIR_JSON, outcome_of

pytestmark = pytest.mark.django_db


def test_a_birth_date_before_1900_is_refused_with_a_message_that_says_what_is_allowed(world):
    body = json.dumps(
        {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:clinic-scheduler:mrn", "value": "MRN-OLD"}],
            "name": [{"family": "Old", "given": ["Very"]}],
            "birthDate": "1850-01-01",
        }
    )
    response = world.client("front_desk").post(BASE + "Patient", body, content_type=FHIR_JSON)
    assert response.status_code == 400
    message = outcome_of(response).diagnostics
    assert "Constraint" not in message and "1900" in message, message
