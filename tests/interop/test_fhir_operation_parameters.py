"""$hold's and $book's inputs: an unknown parameter name is a 400 that lists the names each
operation accepts; the Idempotency-Key header is optional on both (without one each call acts;
with one a retry replays the first answer), as README and metadata say."""

from __future__ import annotations

import json

import pytest

from interop.fhir.capability import BOOK_DOCUMENTATION, HOLD_DOCUMENTATION
from scheduling.models import Appointment
from tests.interop.fhir_support import find_body, outcome_of, parse, post, proposed, reference

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("operation", "accepted"),
    [
        ("$hold", ["appointment-reference", "reason"]),
        ("$book", ["appointment-reference", "appointment-resource", "comment", "patient-resource", "reason"]),
    ],
)
def test_an_unknown_parameter_names_the_accepted_ones(world, operation, accepted):
    response = post(world.client("front_desk"), f"Appointment/{operation}", reference("appointment-id", "1"))

    assert response.status_code == 400, response.content
    issue = outcome_of(response)
    assert issue.code == "not-supported"
    assert "appointment-id" in issue.diagnostics
    assert f"{operation} accepts: {', '.join(accepted)}." in issue.diagnostics, issue.diagnostics


def test_hold_and_book_act_without_an_idempotency_key(world):
    desk = world.client("front_desk")
    found = parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, count=1)))
    proposal = proposed(found)[0]
    held = post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal.id}"))
    assert held.status_code == 200, held.content
    hold_id = parse(held).entry[0].resource.id
    booked = post(desk, "Appointment/$book", reference("appointment-reference", f"Appointment/{hold_id}"))
    assert booked.status_code == 200, booked.content
    assert not booked.has_header("Idempotent-Replayed")


def test_a_hold_retried_with_its_idempotency_key_replays_the_first_answer(world):
    desk = world.client("front_desk")
    proposal = proposed(parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, count=1))))[0]
    body = reference("appointment-reference", f"Appointment/{proposal.id}")

    first = post(desk, "Appointment/$hold", body, HTTP_IDEMPOTENCY_KEY="ehr-hold-1")
    again = post(desk, "Appointment/$hold", body, HTTP_IDEMPOTENCY_KEY="ehr-hold-1")

    assert first.status_code == again.status_code == 200, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert json.loads(again.content) == json.loads(first.content)
    assert Appointment.objects.filter(patient=world.patient_a).count() == 1


def test_metadata_says_the_idempotency_key_is_optional_on_hold_and_book():
    for documentation in (HOLD_DOCUMENTATION, BOOK_DOCUMENTATION):
        assert "Idempotency-Key header is optional" in documentation
