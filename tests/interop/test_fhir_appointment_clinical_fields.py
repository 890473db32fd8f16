"""An Appointment's reasonCode and comment come from the session's notes (the EHR's reason and
comment lines, kept there by $find, $hold and $book), which are clinical: the REST API and the pages
show a session's notes to clinicians only (clinic.permissions.FIELD_READERS["appointment"]["notes"]).
Through FHIR, too, only clinicians read them: a patient reading their own sessions, and the front
desk, get the Appointment without reasonCode and comment, on a read, in a search page and in the
answer of $hold and $book. A proposal's reasonCode ($find's answer) is the asker's own reason
echoed, no notes: it stays.

The clock is fixed at the FHIR tests' NOW (Friday 27 February 2026, 15:00 UTC)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clinic.permissions import may_see_field
from scheduling.models import Appointment
from tests.factories import AppointmentFactory
from tests.interop.fhir_support import BASE, find_body, parameters, parse, post, proposed, reference

pytestmark = pytest.mark.django_db

SNOMED = "http://snomed.info/sct"
REASON = {"coding": [{"system": SNOMED, "code": "35489007", "display": "Depressive disorder"}]}
COMMENT = "Low mood since the last dose; check with Dr Hale"
ROLES = ("prescriber", "front_desk", "patient_a")


def book_with_reason_and_comment(world, role: str = "prescriber"):
    """$find for patient A with a reason, $book the first proposal with a comment: the answer's resource."""
    client = world.client(role)
    proposal = proposed(parse(post(client, "Appointment/$find", find_body(world, world.patient_a, count=1))))[0]
    response = post(
        client,
        "Appointment/$book",
        parameters(
            ("appointment-reference", "valueReference", {"reference": f"Appointment/{proposal.id}"}),
            ("reason", "valueCodeableConcept", REASON),
            ("comment", "valueString", COMMENT),
        ),
    )
    assert response.status_code == 200, response.content
    booked = parse(response).entry[0].resource
    assert Appointment.objects.get(pk=int(booked.id)).notes.splitlines() == [
        f"EHR reason: Depressive disorder [{SNOMED}|35489007]",
        f"EHR: {COMMENT}",
    ]
    return booked


def rest_notes(world, role: str, appointment_id: str):
    token = world.tokens[role]
    response = Client(HTTP_AUTHORIZATION=f"Token {token}").get(f"/api/v1/appointments/{appointment_id}/")
    assert response.status_code == 200, response.content
    return response.json()["notes"]


def clinical(resource) -> tuple:
    return (resource.reasonCode, resource.comment)


def test_only_clinicians_read_the_ehrs_reason_and_comment_of_an_appointment(world):
    booked = book_with_reason_and_comment(world)
    assert booked.reasonCode[0].coding[0].code == "35489007" and booked.comment == COMMENT
    for role in ROLES:
        # The REST API's rule, the one FHIR follows.
        clinician = may_see_field(world_role(world, role), "appointment", "notes")
        assert (rest_notes(world, role, booked.id) is not None) == clinician, role

        read = parse(world.client(role).get(BASE + f"Appointment/{booked.id}"))
        searched = parse(world.client(role).get(BASE + f"Appointment?patient={world.patient_a.pk}"))
        assert [e.resource.id for e in searched.entry] == [booked.id]
        for resource in (read, searched.entry[0].resource):
            if clinician:
                assert resource.reasonCode[0].text == "Depressive disorder", role
                assert resource.comment == COMMENT, role
            else:
                assert clinical(resource) == (None, None), role
        body = world.client(role).get(BASE + f"Appointment/{booked.id}").content.decode()
        assert ("35489007" in body) == clinician and (COMMENT in body) == clinician, role


def world_role(world, role: str) -> str:
    return {"prescriber": "prescriber", "front_desk": "front_desk", "patient_a": "patient"}[role]


def test_the_front_desks_book_and_hold_answers_leave_out_the_reason_and_comment(world):
    booked = book_with_reason_and_comment(world, role="front_desk")
    assert clinical(booked) == (None, None)
    # Kept all the same, for the clinicians.
    read = parse(world.client("prescriber").get(BASE + f"Appointment/{booked.id}"))
    assert read.reasonCode[0].coding[0].code == "35489007" and read.comment == COMMENT

    desk = world.client("front_desk")
    proposal = proposed(parse(post(desk, "Appointment/$find", find_body(world, world.patient_b, count=1))))[0]
    held = post(
        desk,
        "Appointment/$hold",
        parameters(
            ("appointment-reference", "valueReference", {"reference": f"Appointment/{proposal.id}"}),
            ("reason", "valueCodeableConcept", REASON),
        ),
    )
    assert held.status_code == 200, held.content
    assert clinical(parse(held).entry[0].resource) == (None, None)
    again = post(
        desk, "Appointment/$book", reference("appointment-reference", f"Appointment/{parse(held).entry[0].resource.id}")
    )
    assert again.status_code == 200, again.content
    assert clinical(parse(again).entry[0].resource) == (None, None)


def test_a_clinicians_hold_answer_keeps_the_reason(world):
    client = world.client("prescriber")
    proposal = proposed(parse(post(client, "Appointment/$find", find_body(world, world.patient_b, count=1))))[0]
    held = post(
        client,
        "Appointment/$hold",
        parameters(
            ("appointment-reference", "valueReference", {"reference": f"Appointment/{proposal.id}"}),
            ("reason", "valueCodeableConcept", REASON),
        ),
    )
    assert held.status_code == 200, held.content
    assert parse(held).entry[0].resource.reasonCode[0].text == "Depressive disorder"


def search_queries(client) -> int:
    client.get(BASE + "Appointment")  # warm: what a first request reads once (the clinic's caches)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(BASE + "Appointment")
    assert response.status_code == 200, response.content
    return len(queries)


def test_a_page_of_appointments_reads_as_many_queries_for_one_session_as_for_three(world):
    notes = f"EHR reason: Depressive disorder [{SNOMED}|35489007]\nEHR: {COMMENT}"
    chair = world.clinic.chairs[0]
    session = dt.timedelta(hours=2)
    first = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
    AppointmentFactory(patient=world.patient_a, chair=chair, starts_at=first, ends_at=first + session, notes=notes)
    one = {role: search_queries(world.client(role)) for role in ROLES}
    for days in (7, 14):
        starts_at = first + dt.timedelta(days=days)
        AppointmentFactory(
            patient=world.patient_a, chair=chair, starts_at=starts_at, ends_at=starts_at + session, notes=notes
        )
    for role in ROLES:
        client = world.client(role)
        assert len(parse(client.get(BASE + "Appointment")).entry) == 3, role
        assert search_queries(client) == one[role], role
