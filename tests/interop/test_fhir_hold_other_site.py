"""$hold of a proposal the asker may not reach (its patient, or its chair and site) answers the same
404 that $book of it answers, before anything is said about the time being held: otherwise a member
of staff of another site, given or guessing a proposal id (readable base36, only signed), would learn
from a 409 held_by_another_user "until 10:10" that a patient's time at a site they do not work at is
being booked, and until when.

The clock is fixed at the FHIR tests' NOW (Friday 27 February 2026, 15:00 UTC)."""

from __future__ import annotations

import pytest
from django.test import Client
from knox.models import AuthToken

from clinic.models import Role
from scheduling.models import Appointment
from tests.factories import ChairFactory, PatientFactory, SiteFactory, StaffFactory, UserFactory
from tests.interop.fhir_support import (
    FHIR_JSON,
    find_body,
    hold_first_proposal,
    outcome_of,
    parse,
    post,
    proposed,
    reference,
)

pytestmark = pytest.mark.django_db


def desk_at(site, username: str, *more_sites) -> Client:
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[site, *more_sites], user=UserFactory(username=username))
    token = AuthToken.objects.create(user=desk.user)[1]
    return Client(HTTP_ACCEPT=FHIR_JSON, HTTP_AUTHORIZATION=f"Token {token}")


def test_staff_of_another_site_are_not_told_that_a_proposal_there_is_held(world):
    proposal, _hold_id = hold_first_proposal(world, world.patient_a)  # the desk of site A holds it
    elsewhere = SiteFactory()
    ChairFactory(site=elsewhere)
    client = desk_at(elsewhere, "desk_elsewhere")
    body = reference("appointment-reference", f"Appointment/{proposal.id}")

    booked = post(client, "Appointment/$book", body)
    assert booked.status_code == 404  # $book keeps the proposal's patient and site from them

    held = post(client, "Appointment/$hold", body)
    assert held.status_code == 404, held.content
    assert "held_by_another_user" not in held.content.decode()
    assert outcome_of(held).diagnostics == outcome_of(booked).diagnostics


def test_staff_who_know_the_patient_but_not_the_proposals_site_are_not_told_it_is_held(world):
    """A patient of site B with a time at site A, held by someone who works at both: the desk of
    site B reaches the patient, not site A's chair, and is answered as $book answers them."""
    elsewhere = SiteFactory()
    ChairFactory(site=elsewhere)
    patient = PatientFactory(home_site=elsewhere, last_name="Carver")
    both = desk_at(world.clinic.site, "desk_both", elsewhere)
    found = proposed(parse(post(both, "Appointment/$find", find_body(world, patient, count=1))))
    assert found and str(world.clinic.site.pk) in {
        p.actor.reference.rpartition("-")[2]
        for p in found[0].participant
        if p.actor.reference.startswith("Location/site-")
    }
    body = reference("appointment-reference", f"Appointment/{found[0].id}")
    assert post(both, "Appointment/$hold", body).status_code == 200
    desk_b = desk_at(elsewhere, "desk_b")

    booked = post(desk_b, "Appointment/$book", body)
    assert booked.status_code == 404

    held = post(desk_b, "Appointment/$hold", body)
    assert held.status_code == 404, held.content
    assert "held_by_another_user" not in held.content.decode()
    assert outcome_of(held).diagnostics == outcome_of(booked).diagnostics
    assert Appointment.objects.filter(patient=patient).count() == 1


def test_a_proposal_the_asker_reaches_is_still_refused_as_held_by_another_user(world):
    proposal, _hold_id = hold_first_proposal(world, world.patient_a)
    held = post(
        world.client("prescriber"),
        "Appointment/$hold",
        reference("appointment-reference", f"Appointment/{proposal.id}"),
    )
    assert held.status_code == 409, held.content
    assert outcome_of(held).details.coding[0].code == "held_by_another_user"
