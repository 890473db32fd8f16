"""vread, GET [type]/[id]/_history/[vid], for the current version: a Patient create and a new booking by
$book answer `Location: [base]<type>/<id>/_history/<versionId>`, an address the client must be able to
read. Only the current version is kept, so a vread of it answers the resource (with its ETag), as a read
does, and a vread of an older version answers 404 with an OperationOutcome saying that only the current
version is kept: the status FHIR's RESTful API (http.html#vread) asks of a server that does not keep
previous versions. The version is the reader's own (an Appointment's desk copy has its own). Who may read
what is the read's: another patient's id answers exactly the read's 404, whatever version is named.

The clock is fixed at the FHIR tests' NOW (Friday 27 February 2026, 15:00 UTC)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine

from clinic.audit import access_log_naming_patient
from clinic.models import AccessLog
from interop.fhir import representation as rep
from scheduling.services import appointment_note_add
from tests.interop.fhir_support import BASE, outcome_of, parameters, parse, post, zulu
from tests.interop.test_fhir_server import new_appointment, new_patient, proposals
from tests.scheduling.conftest import NOW, START, at_new_york

pytestmark = pytest.mark.django_db


def current(world, path: str, role: str):
    """The read's answer, and its version."""
    response = world.client(role).get(BASE + path)
    assert response.status_code == 200, response.content
    return response, parse(response).meta.versionId


def vread(world, path: str, version: str, role: str):
    return world.client(role).get(BASE + f"{path}/_history/{version}")


def an_appointment_of_patient_a(world):
    plan = world.clinic.plan(patient=world.patient_a)
    return world.clinic.book(plan, [at_new_york(START, 10)])[0]


def test_a_vread_of_the_current_version_answers_the_resource_as_a_read_does(world):
    appointment = an_appointment_of_patient_a(world)
    chair = world.clinic.chairs[0]
    readable = {
        "front_desk": [
            f"Patient/{world.patient_a.pk}",
            f"Appointment/{appointment.pk}",
            f"Location/site-{world.clinic.site.pk}",
            f"Location/chair-{chair.pk}",
            f"Schedule/{chair.pk}",
            f"HealthcareService/{world.protocol.pk}",
            f"Practitioner/{world.clinic.nurses[0].pk}",
            f"PractitionerRole/{world.clinic.nurses[0].pk}",
        ],
        "prescriber": [f"Appointment/{appointment.pk}"],
        "patient_a": [f"Patient/{world.patient_a.pk}", f"Appointment/{appointment.pk}", f"Schedule/{chair.pk}"],
    }
    for role, paths in readable.items():
        for path in paths:
            read, version = current(world, path, role)
            response = vread(world, path, version, role)
            assert response.status_code == 200, (role, path, response.content)
            assert response["ETag"] == read["ETag"] == f'W/"{version}"', (role, path)
            assert json.loads(response.content) == json.loads(read.content), (role, path)


def test_the_location_of_a_created_patient_and_of_a_new_booking_can_be_read(world):
    desk = world.client("front_desk")
    created = post(desk, "Patient", new_patient())
    assert created.status_code == 201
    answer = desk.get(created["Location"].removeprefix("http://testserver"))
    assert answer.status_code == 200, answer.content
    assert parse(answer).id == parse(created).id and answer["ETag"] == created["ETag"]

    proposal = proposals(world, world.patient_a)[0]
    body = parameters(("appointment-resource", "resource", new_appointment(world, proposal, world.patient_a)))
    booked = post(desk, "Appointment/$book", body)
    assert booked.status_code == 201, booked.content
    answer = desk.get(booked["Location"].removeprefix("http://testserver"))
    assert answer.status_code == 200, answer.content
    assert json.loads(answer.content) == json.loads(parse(booked).entry[0].resource.model_dump_json())


def test_a_vread_of_an_older_version_answers_404_saying_only_the_current_version_is_kept(world):
    appointment = an_appointment_of_patient_a(world)
    patient_path, appointment_path = f"Patient/{world.patient_a.pk}", f"Appointment/{appointment.pk}"
    _, old_patient = current(world, patient_path, "front_desk")
    _, old_appointment = current(world, appointment_path, "front_desk")
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        world.patient_a.first_name = "Alicia"
        world.patient_a.save(update_fields=["first_name", "updated_at"])
    world.protocol.name = "Renamed protocol"
    world.protocol.save(update_fields=["name"])

    for path, old in ((patient_path, old_patient), (appointment_path, old_appointment)):
        _, now = current(world, path, "front_desk")
        assert now != old
        response = vread(world, path, old, "front_desk")
        assert response.status_code == 404, response.content
        issue = outcome_of(response)
        assert issue.code == "not-found" and issue.details.coding[0].code == "version_not_kept"
        assert "only the current version" in issue.diagnostics and f"read {path}" in issue.diagnostics
        # The current version is the read's to give (and to log): the 404 does not name it.
        assert now not in response.content.decode()
        assert vread(world, path, "no-such-version", "front_desk").status_code == 404


def test_a_wrong_version_vread_discloses_nothing_of_the_patient_and_is_logged_with_them(world):
    """A Patient's version is its row's time of change: a 404 that named it would hand out each
    reachable patient's last change. It names neither that version nor the change time, and the
    vread, which confirms the asker reaches that patient's record, is logged with the patient as a
    read is (an Appointment's with its patient)."""
    appointment = an_appointment_of_patient_a(world)
    patient = world.patient_a
    for path in (f"Patient/{patient.pk}", f"Appointment/{appointment.pk}"):
        read, version = current(world, path, "front_desk")
        changed = parse(read).meta.lastUpdated
        before = AccessLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

        response = vread(world, path, "not-this-one", "front_desk")

        assert response.status_code == 404, response.content
        text = response.content.decode()
        assert version not in text and changed.isoformat() not in text, text
        assert zulu(changed) not in text, text
        logged = AccessLog.objects.filter(pk__gt=before, path__endswith=f"{path}/_history/not-this-one")
        assert logged.count() == 1, path
        assert access_log_naming_patient(logged, patient.pk).exists(), path


def test_a_vread_names_the_readers_own_version(world):
    appointment = an_appointment_of_patient_a(world)
    appointment_note_add(
        appointment=appointment,
        text="Check blood pressure",
        actor=world.clinic.prescriber.user,
        prefix=rep.EHR_NOTE_PREFIX,
    )
    path = f"Appointment/{appointment.pk}"
    _, clinicians = current(world, path, "prescriber")
    _, desks = current(world, path, "front_desk")
    assert clinicians != desks
    assert vread(world, path, desks, "front_desk").status_code == 200
    assert vread(world, path, clinicians, "prescriber").status_code == 200
    # The clinician's version is not the desk's copy: no copy of theirs has it.
    assert vread(world, path, clinicians, "front_desk").status_code == 404


def test_another_patients_resource_answers_the_reads_404_whatever_the_version(world):
    appointment = an_appointment_of_patient_a(world)
    for path in (f"Appointment/{appointment.pk}", f"Patient/{world.patient_a.pk}"):
        _, version = current(world, path, "front_desk")
        read = world.client("patient_b").get(BASE + path)
        assert read.status_code == 404
        for named in (version, "1"):
            response = vread(world, path, named, "patient_b")
            assert response.status_code == 404
            assert json.loads(response.content) == json.loads(read.content)


def test_a_vread_needs_the_reads_scope(world):
    path = f"Patient/{world.patient_a.pk}"
    _, version = current(world, path, "front_desk")
    read = world.client("clinic_admin").get(BASE + path)
    assert read.status_code == 403
    response = vread(world, path, version, "clinic_admin")
    assert response.status_code == 403 and json.loads(response.content) == json.loads(read.content)


def test_a_slot_has_no_version_to_read(world):
    response = vread(world, "Slot/abc", "1", "front_desk")
    assert response.status_code == 404 and outcome_of(response).code == "not-supported"


def test_the_capability_statement_offers_vread_of_the_current_version_only(world):
    statement = parse(world.client(None).get(BASE + "metadata"))
    rest = statement.rest[0]
    for resource in rest.resource:
        codes = [i.code for i in resource.interaction]
        assert ("vread" in codes) == (resource.type != "Slot"), resource.type
        assert not resource.readHistory
    assert "_history/[vid]" in rest.documentation and "404" in rest.documentation
