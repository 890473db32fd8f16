"""$book of a hold, by reference or by sending the Appointment back (appointment-resource, at its own
start): one released before it lapsed (the plan's review date brought forward before it) answers 409
conflict saying it was released and why, not that it expired nor that a cancelled session cannot
move; a lapsed hold answers that it expired; a patient whose screening now stops booking is refused
(not_eligible) and the hold stays."""

from __future__ import annotations

import datetime as dt

import pytest

from patients.models import Contraindication, PatientFlag
from scheduling import services
from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import find_body, outcome_of, parameters, parse, post, proposed, reference
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

HELD_DAY = dt.date(2026, 3, 5)  # a Thursday of the course's first week


def _hold(world) -> tuple[object, str]:
    """The first time $find proposes on HELD_DAY for patient A's course, held by the front desk: the
    proposal and the hold's id."""
    world.clinic.plan(patient=world.patient_a)
    desk = world.client("front_desk")
    proposal = proposed(parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, day=HELD_DAY))))[0]
    held = parse(post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal.id}")))
    return proposal, held.entry[0].resource.id


def _release_by_review_date(hold_id: str, world) -> None:
    services.plan_change_review_date(
        plan=Appointment.objects.get(pk=int(hold_id)).plan,
        review_date=dt.date(2026, 3, 3),
        reason="Dependence concern",
        actor=world.clinic.prescriber.user,
        now=NOW,
    )


def _book_by_reference(world, hold_id: str):
    return post(
        world.client("front_desk"), "Appointment/$book", reference("appointment-reference", f"Appointment/{hold_id}")
    )


def _book_by_resource(world, proposal, hold_id: str):
    appointment = {
        "resourceType": "Appointment",
        "id": hold_id,
        "status": "booked",
        "start": proposal.start.isoformat(),
        "participant": [{"actor": {"reference": f"Patient/{world.patient_a.pk}"}, "status": "accepted"}],
    }
    return post(
        world.client("front_desk"), "Appointment/$book", parameters(("appointment-resource", "resource", appointment))
    )


def _flag(world) -> None:
    rule = Contraindication.objects.create(label="Active psychosis", code="psychosis-rv", kind="flag")
    PatientFlag.objects.create(patient=world.patient_a, contraindication=rule, recorded_by=world.clinic.prescriber.user)


def test_booking_a_hold_released_by_a_review_date_brought_forward_says_so(world):
    _, hold_id = _hold(world)
    _release_by_review_date(hold_id, world)

    response = _book_by_reference(world, hold_id)

    assert response.status_code == 409, response.content
    issue = outcome_of(response)
    assert issue.code == "conflict"
    assert issue.details.coding[0].code == "hold_released"
    assert issue.diagnostics == (
        "The hold was released: After the plan's new review date (Tue 3 Mar 2026). Find a new time and hold it again."
    )
    assert Appointment.objects.get(pk=int(hold_id)).status == AppointmentStatus.CANCELLED


def test_a_released_hold_sent_back_as_the_appointment_answers_hold_released(world):
    # It was told the session could not be moved.
    proposal, hold_id = _hold(world)
    _release_by_review_date(hold_id, world)

    response = _book_by_resource(world, proposal, hold_id)

    assert response.status_code == 409, response.content
    assert outcome_of(response).details.coding[0].code == "hold_released"


def test_booking_a_lapsed_hold_says_it_expired(world, frozen, time_machine):
    _, hold_id = _hold(world)
    time_machine.move_to(Appointment.objects.get(pk=int(hold_id)).hold_expires_at, tick=False)

    response = _book_by_reference(world, hold_id)

    assert response.status_code == 409, response.content
    issue = outcome_of(response)
    assert issue.details.coding[0].code == "hold_expired"
    assert issue.diagnostics == "The hold has expired; find a new time and hold it again."


@pytest.mark.parametrize("by_resource", [False, True], ids=["by-reference", "by-resource"])
def test_a_hold_whose_patient_the_screening_now_stops_is_not_booked_and_stays(world, by_resource):
    proposal, hold_id = _hold(world)
    _flag(world)

    response = _book_by_resource(world, proposal, hold_id) if by_resource else _book_by_reference(world, hold_id)

    assert response.status_code == 409, response.content
    issue = outcome_of(response)
    assert issue.code == "business-rule"
    assert issue.details.coding[0].code == "not_eligible"
    assert Appointment.objects.get(pk=int(hold_id)).status == AppointmentStatus.HELD
