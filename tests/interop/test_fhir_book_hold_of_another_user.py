"""$book by appointment-reference of a hold another user made (another EHR session, or another user
of the clinic who can see it) is refused 409 conflict: only the user who held a time books it."""

from __future__ import annotations

import pytest

from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import hold_first_proposal, outcome_of, post, reference

pytestmark = pytest.mark.django_db


def test_a_hold_is_not_booked_by_another_user(world):
    _, hold_id = hold_first_proposal(world, world.patient_a, role="front_desk")

    response = post(
        world.client("prescriber"), "Appointment/$book", reference("appointment-reference", f"Appointment/{hold_id}")
    )

    assert response.status_code == 409, response.content
    issue = outcome_of(response)
    assert issue.code == "conflict"
    assert issue.details.coding[0].code == "held_by_another_user"
    assert Appointment.objects.get(pk=int(hold_id)).status == AppointmentStatus.HELD, "the hold was booked"
    booked = post(
        world.client("front_desk"), "Appointment/$book", reference("appointment-reference", f"Appointment/{hold_id}")
    )
    assert booked.status_code == 200, booked.content
    assert Appointment.objects.get(pk=int(hold_id)).status == AppointmentStatus.BOOKED
