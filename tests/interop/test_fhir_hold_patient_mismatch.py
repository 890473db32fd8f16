"""$book by appointment-reference of a hold, with a patient-resource naming another patient, is
refused (400) as it is for a proposal (tests/interop/test_fhir_book_patient_mismatch.py): the hold
stays held."""

from __future__ import annotations

import pytest

from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import hold_first_proposal, parameters, post

pytestmark = pytest.mark.django_db


def test_a_hold_for_one_patient_is_not_booked_when_the_request_names_another(world):
    _, hold_id = hold_first_proposal(world, world.patient_a)
    body = parameters(
        ("appointment-reference", "valueReference", {"reference": f"Appointment/{hold_id}"}),
        (
            "patient-resource",
            "resource",
            {"resourceType": "Patient", "identifier": [{"system": "urn:clinic-scheduler:mrn", "value": "MRN-B"}]},
        ),
    )
    response = post(world.client("front_desk"), "Appointment/$book", body)
    assert response.status_code == 400, response.content
    assert Appointment.objects.get(pk=int(hold_id)).status == AppointmentStatus.HELD
