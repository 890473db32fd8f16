"""FHIR $hold then $book when the screening now stops the patient, or when the hold was released
(review date brought forward) and the EHR books it by sending the Appointment back
(appointment-resource, the ITI-117 way)."""

from __future__ import annotations

import datetime as dt

import pytest

from patients.models import Contraindication, PatientFlag
from scheduling import services
from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import find_body, outcome_of, parameters, parse, post, proposed, reference
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

HELD_DAY = dt.date(2026, 3, 5)


def _hold(world) -> tuple[object, str]:
    world.clinic.plan(patient=world.patient_a)
    desk = world.client("front_desk")
    proposal = proposed(parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, day=HELD_DAY))))[0]
    held = parse(post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal.id}")))
    return proposal, held.entry[0].resource.id


def _flag(world) -> None:
    rule = Contraindication.objects.create(label="Active psychosis", code="psychosis-rv", kind="flag")
    PatientFlag.objects.create(patient=world.patient_a, contraindication=rule, recorded_by=world.clinic.prescriber.user)


def test_book_by_reference_when_screening_now_stops_answers_not_eligible(world):
    _, hold_id = _hold(world)
    _flag(world)
    response = post(
        world.client("front_desk"), "Appointment/$book", reference("appointment-reference", f"Appointment/{hold_id}")
    )
    assert response.status_code == 409, response.content
    issue = outcome_of(response)
    assert issue.code == "business-rule"
    assert issue.details.coding[0].code == "not_eligible"
    assert Appointment.objects.get(pk=int(hold_id)).status == AppointmentStatus.HELD


def test_book_by_resource_when_screening_now_stops_answers_not_eligible(world):
    proposal, hold_id = _hold(world)
    _flag(world)
    body = parameters(
        (
            "appointment-resource",
            "resource",
            {
                "resourceType": "Appointment",
                "id": hold_id,
                "status": "booked",
                "start": proposal.start.isoformat(),
                "participant": [{"actor": {"reference": f"Patient/{world.patient_a.pk}"}, "status": "accepted"}],
            },
        )
    )
    response = post(world.client("front_desk"), "Appointment/$book", body)
    assert response.status_code == 409, response.content
    issue = outcome_of(response)
    assert issue.details.coding[0].code == "not_eligible"
    assert Appointment.objects.get(pk=int(hold_id)).status == AppointmentStatus.HELD


def test_released_hold_booked_by_resource_answers_hold_released(world):
    """A hold released before it lapsed answers hold_released with why when the EHR books it by
    sending the Appointment back (status booked, its own start), as when it books it by reference;
    it was told the session could not be moved."""
    proposal, hold_id = _hold(world)
    held = Appointment.objects.get(pk=int(hold_id))
    services.plan_change_review_date(
        plan=held.plan,
        review_date=dt.date(2026, 3, 3),
        reason="Dependence concern",
        actor=world.clinic.prescriber.user,
        now=NOW,
    )
    body = parameters(
        (
            "appointment-resource",
            "resource",
            {
                "resourceType": "Appointment",
                "id": hold_id,
                "status": "booked",
                "start": proposal.start.isoformat(),
                "participant": [{"actor": {"reference": f"Patient/{world.patient_a.pk}"}, "status": "accepted"}],
            },
        )
    )
    response = post(world.client("front_desk"), "Appointment/$book", body)
    assert response.status_code == 409, response.content
    issue = outcome_of(response)
    assert issue.details.coding[0].code == "hold_released", issue.diagnostics
