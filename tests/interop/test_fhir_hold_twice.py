"""The same $find proposal held a second time: by the user who holds it, a 409 that says they hold
it already, naming the Appointment and until when (not the patient's or plan's rules it would
otherwise be refused for); by another user, a 409 that says the time is held by someone else,
naming neither the patient nor the hold. Nothing new is made either way."""

from __future__ import annotations

import pytest

from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import find_body, outcome_of, parse, post, proposed, reference

pytestmark = pytest.mark.django_db

_EXPIRES = "urn:clinic-scheduler:fhir:hold-expires"


def _hold(client, proposal_id):
    return post(client, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal_id}"))


def _expires(resource):
    return next(e.valueDateTime for e in resource.extension or [] if e.url == _EXPIRES)


def test_holding_ones_own_held_proposal_again_names_the_hold(world):
    desk = world.client("front_desk")
    proposal = proposed(parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, count=1))))[0]
    first = parse(_hold(desk, proposal.id)).entry[0].resource

    again = _hold(desk, proposal.id)

    assert again.status_code == 409, again.content
    issue = outcome_of(again)
    assert issue.code == "conflict"
    assert issue.details.coding[0].code == "already_held"
    expires = _expires(first).astimezone(world.clinic.site.zone).replace(microsecond=0)
    assert f"You hold this time already: Appointment/{first.id}, held until {expires:%H:%M}" in issue.diagnostics
    assert expires.isoformat() in issue.diagnostics
    assert Appointment.objects.filter(patient=world.patient_a).count() == 1
    assert Appointment.objects.get(pk=int(first.id)).status == AppointmentStatus.HELD


def test_holding_a_time_another_user_holds_says_so_without_naming_the_patient(world):
    desk = world.client("front_desk")
    proposal = proposed(parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, count=1))))[0]
    hold_id = parse(_hold(desk, proposal.id)).entry[0].resource.id

    response = _hold(world.client("prescriber"), proposal.id)

    assert response.status_code == 409, response.content
    issue = outcome_of(response)
    assert issue.code == "conflict"
    assert issue.details.coding[0].code == "held_by_another_user"
    assert "held by another user" in issue.diagnostics
    assert "plan's rules" not in issue.diagnostics
    for secret in (
        "Patient/",
        world.patient_a.last_name,
        world.patient_a.first_name,
        world.patient_a.mrn,
        f"Appointment/{hold_id}",
    ):
        assert secret not in issue.diagnostics, issue.diagnostics
    assert Appointment.objects.filter(patient=world.patient_a).count() == 1
