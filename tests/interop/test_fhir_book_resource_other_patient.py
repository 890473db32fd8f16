"""$book refuses a request naming another patient than the hold or proposal it books, whether it is
sent as an appointment-reference or as an appointment-resource (its Patient participant, or a
patient-resource): 400, and nothing is booked."""

from __future__ import annotations

import pytest

from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import find_body, frozen, hold_first_proposal, parameters, parse, post, proposed, world  # noqa: F401  (the fixtures)

pytestmark = pytest.mark.django_db

BOB_BY_MRN = {"resourceType": "Patient", "identifier": [{"system": "urn:clinic-scheduler:mrn", "value": "MRN-B"}]}


def _resource(appointment_id: str, start: str, patient) -> dict:
    return {
        "resourceType": "Appointment",
        "id": appointment_id,
        "status": "booked",
        "start": start,
        "participant": [{"actor": {"reference": f"Patient/{patient.pk}"}, "status": "accepted"}],
    }


def test_a_hold_sent_back_as_a_resource_naming_another_patient_is_booked_for_the_holds_patient(world):  # noqa: F811
    """Alice's hold sent back as an appointment-resource whose participant and patient-resource are
    Bob: refused (400), and it stays held."""
    proposal, hold_id = hold_first_proposal(world, world.patient_a)
    start = proposal.start.isoformat()
    body = parameters(
        ("appointment-resource", "resource", _resource(hold_id, start, world.patient_b)),
        ("patient-resource", "resource", BOB_BY_MRN),
    )
    response = post(world.client("front_desk"), "Appointment/$book", body)
    held = Appointment.objects.get(pk=int(hold_id))
    assert (response.status_code, held.status) == (400, AppointmentStatus.HELD), (
        f"{response.status_code}: the hold of {held.patient} was {held.status}"
    )


def test_a_proposal_sent_back_as_a_resource_naming_another_patient_is_booked_for_the_first(world):  # noqa: F811
    """Alice's $find proposal sent back as an appointment-resource naming Bob: refused, nothing booked."""
    desk = world.client("front_desk")
    found = proposed(parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, count=1))))[0]
    body = parameters(
        ("appointment-resource", "resource", _resource(found.id, found.start.isoformat(), world.patient_b)),
        ("patient-resource", "resource", BOB_BY_MRN),
    )
    response = post(desk, "Appointment/$book", body)
    assert response.status_code == 400, response.content
    assert not Appointment.objects.exists()
