"""The FHIR server driven by fhirclient (the SMART on FHIR Python client) over HTTP, against
Django's live server and PostgreSQL: the whole scheduling flow, patient isolation, and two
EHRs booking the same time at once."""

from __future__ import annotations

import json
import threading
from urllib.parse import urlencode

import pytest
import requests
import time_machine
from fhir.resources.R4B import get_fhir_model_class
from fhirclient.models.appointment import Appointment as ClientAppointment
from fhirclient.models.bundle import Bundle as ClientBundle
from fhirclient.models.parameters import Parameters as ClientParameters
from fhirclient.models.patient import Patient as ClientPatient
from fhirclient.models.slot import Slot as ClientSlot
from fhirclient.server import FHIRNotFoundException, FHIRServer

from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import build_world, window
from tests.scheduling.conftest import NOW, START


def as_fhir_resources(data: dict):
    """Every answer must also parse with fhir.resources."""
    return get_fhir_model_class(data["resourceType"]).model_validate(data)


@pytest.fixture
def live_world(transactional_db, live_server):
    with time_machine.travel(NOW, tick=False):
        yield build_world(), live_server.url + "/fhir/R4/"


def server_for(base: str, token: str) -> FHIRServer:
    server = FHIRServer(None, base_uri=base)
    server.session.headers["Authorization"] = f"Token {token}"
    return server


def operation(server: FHIRServer, name: str, parameters: list[dict]) -> dict:
    body = ClientParameters({"resourceType": "Parameters", "parameter": parameters}).as_json()
    data = server.post_json(f"Appointment/${name}", body).json()
    as_fhir_resources(data)
    return data


def test_an_ehr_finds_holds_books_reads_and_cancels_with_fhirclient(live_world):
    world, base = live_world
    server = server_for(base, world.tokens["front_desk"])
    start, end = window(START)

    # fhirclient's search builder writes the old ">=" prefixes, so the query is written out; its models read the answer.
    query = urlencode(
        [("service-type", world.protocol.pk), ("start", f"ge{start}"), ("start", f"lt{end}"), ("status", "free")]
    )
    searchset = server.request_json(f"Slot?{query}")
    as_fhir_resources(searchset)
    slots = [entry.resource for entry in ClientBundle(searchset).entry]
    assert slots and all(isinstance(slot, ClientSlot) and slot.status == "free" for slot in slots)

    found = operation(
        server,
        "find",
        [
            {"name": "start", "valueDateTime": start},
            {"name": "end", "valueDateTime": end},
            {"name": "visit-type", "valueString": str(world.protocol.pk)},
            {"name": "patient-reference", "valueReference": {"reference": f"Patient/{world.patient_a.pk}"}},
        ],
    )
    proposal = found["entry"][0]["resource"]
    assert proposal["status"] == "proposed"
    assert proposal["start"] == slots[0].start.as_json()

    held = operation(
        server,
        "hold",
        [{"name": "appointment-reference", "valueReference": {"reference": f"Appointment/{proposal['id']}"}}],
    )
    pending_id = held["entry"][0]["resource"]["id"]
    assert held["entry"][0]["resource"]["status"] == "pending"

    booked = operation(
        server,
        "book",
        [{"name": "appointment-reference", "valueReference": {"reference": f"Appointment/{pending_id}"}}],
    )
    assert booked["entry"][0]["resource"]["status"] == "booked"

    appointment = ClientAppointment.read(pending_id, server)
    assert appointment.status == "booked"
    assert as_fhir_resources(appointment.as_json()).start.isoformat().startswith(proposal["start"][:16])

    appointment.status = "cancelled"
    cancelled = operation(server, "book", [{"name": "appointment-resource", "resource": appointment.as_json()}])
    assert cancelled["entry"][0]["resource"]["status"] == "cancelled"
    assert Appointment.objects.get(pk=int(pending_id)).status == AppointmentStatus.CANCELLED


def test_a_patient_token_cannot_read_another_patient_through_fhirclient(live_world):
    world, base = live_world
    alice = server_for(base, world.tokens["patient_a"])
    assert ClientPatient.read(str(world.patient_a.pk), alice).name[0].family == "Adams"
    with pytest.raises(FHIRNotFoundException) as refused:
        ClientPatient.read(str(world.patient_b.pk), alice)
    assert as_fhir_resources(refused.value.response.json()).issue[0].code == "not-found"


def test_two_concurrent_books_of_the_same_time_give_one_booking(live_world):
    world, base = live_world
    server = server_for(base, world.tokens["front_desk"])
    start, end = window(START)
    chair = world.clinic.chairs[0]

    def proposal_for(patient) -> str:
        found = operation(
            server,
            "find",
            [
                {"name": "start", "valueDateTime": start},
                {"name": "end", "valueDateTime": end},
                {"name": "location-reference", "valueReference": {"reference": f"Location/chair-{chair.pk}"}},
                {"name": "patient-reference", "valueReference": {"reference": f"Patient/{patient.pk}"}},
                {"name": "_count", "valueInteger": 1},
            ],
        )
        return found["entry"][0]["resource"]["id"]

    proposals = [proposal_for(world.patient_a), proposal_for(world.patient_b)]
    barrier = threading.Barrier(2)
    answers: list[requests.Response] = []

    def book(proposal: str) -> None:
        body = {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "appointment-reference", "valueReference": {"reference": f"Appointment/{proposal}"}}
            ],
        }
        barrier.wait()
        answers.append(
            requests.post(
                base + "Appointment/$book",
                data=json.dumps(body),
                headers={
                    "Content-Type": "application/fhir+json",
                    "Authorization": f"Token {world.tokens['front_desk']}",
                },
                timeout=60,
            )
        )

    threads = [threading.Thread(target=book, args=(p,)) for p in proposals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 409]
    refused = next(a for a in answers if a.status_code == 409)
    assert as_fhir_resources(refused.json()).issue[0].code == "conflict"
    assert Appointment.objects.filter(chair=chair, status=AppointmentStatus.BOOKED).count() == 1
