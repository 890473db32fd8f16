"""$book of a hold that was released before it lapsed (the plan's review date brought forward before
it) answers 409 conflict saying it was released and why, not that it expired; a lapsed hold still
answers that it expired."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling import services
from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import find_body, outcome_of, parse, post, proposed, reference
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

HELD_DAY = dt.date(2026, 3, 5)  # a Thursday of the course's first week


def _hold_for_the_course(world) -> str:
    world.clinic.plan(patient=world.patient_a)
    desk = world.client("front_desk")
    proposal = proposed(parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, day=HELD_DAY))))[0]
    held = parse(post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal.id}")))
    return held.entry[0].resource.id


def test_booking_a_hold_released_by_a_review_date_brought_forward_says_so(world):
    hold_id = _hold_for_the_course(world)
    held = Appointment.objects.get(pk=int(hold_id))
    services.plan_change_review_date(
        plan=held.plan,
        review_date=dt.date(2026, 3, 3),
        reason="Dependence concern",
        actor=world.clinic.prescriber.user,
        now=NOW,
    )

    response = post(
        world.client("front_desk"), "Appointment/$book", reference("appointment-reference", f"Appointment/{hold_id}")
    )

    assert response.status_code == 409, response.content
    issue = outcome_of(response)
    assert issue.code == "conflict"
    assert issue.details.coding[0].code == "hold_released"
    assert issue.diagnostics == (
        "The hold was released: After the plan's new review date (Tue 3 Mar 2026). Find a new time and hold it again."
    )
    assert Appointment.objects.get(pk=int(hold_id)).status == AppointmentStatus.CANCELLED


def test_booking_a_lapsed_hold_says_it_expired(world, frozen, time_machine):
    hold_id = _hold_for_the_course(world)
    time_machine.move_to(Appointment.objects.get(pk=int(hold_id)).hold_expires_at, tick=False)

    response = post(
        world.client("front_desk"), "Appointment/$book", reference("appointment-reference", f"Appointment/{hold_id}")
    )

    assert response.status_code == 409, response.content
    issue = outcome_of(response)
    assert issue.details.coding[0].code == "hold_expired"
    assert issue.diagnostics == "The hold has expired; find a new time and hold it again."
