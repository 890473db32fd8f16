"""$book by appointment-reference with a patient-resource naming another patient than the proposal."""

from __future__ import annotations

import pytest

from scheduling.models import Appointment
from tests.interop.fhir_support import BASE, FHIR_JSON, find_body, parameters, parse

pytestmark = pytest.mark.django_db


def test_a_proposal_for_one_patient_is_never_booked_silently_when_another_patient_is_named(world):
    desk = world.client("front_desk")
    found = parse(
        desk.post(BASE + "Appointment/$find", find_body(world, world.patient_a, count=1), content_type=FHIR_JSON)
    )
    proposal_id = found.entry[0].resource.id

    # The EHR books that proposal for Bob (by MRN).
    body = parameters(
        ("appointment-reference", "valueReference", {"reference": f"Appointment/{proposal_id}"}),
        (
            "patient-resource",
            "resource",
            {"resourceType": "Patient", "identifier": [{"system": "urn:clinic-scheduler:mrn", "value": "MRN-B"}]},
        ),
    )
    response = desk.post(BASE + "Appointment/$book", body, content_type=FHIR_JSON)

    assert response.status_code == 400, response.content
    assert "but this proposal was found for another patient" in response.json()["issue"][0]["diagnostics"]
    assert not Appointment.objects.exists()
