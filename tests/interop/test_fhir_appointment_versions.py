"""An Appointment's version (meta.versionId, the read's ETag, the version in $book's Location) follows
what the Appointment says, as the other resources' versions do: its serviceType names the plan's
protocol, a row of its own, so a version that moved only with the appointment's own row would stay
when the protocol is renamed, and a client holding the old name would be told (304) that its copy is
current. The version is a digest of the content: it changes when the protocol is renamed, and stays
when a save changes nothing the reader is shown (the desk's own note). It is the version of the
reader's own copy: the front desk and a patient read the Appointment without the EHR's reason and
comment (clinical: tests/interop/test_fhir_appointment_clinical_fields.py), so an EHR comment changes
a clinician's version and leaves theirs as it was, and their version never tells whether content
hidden from them changed. meta.lastUpdated stays the row's time of change.

The clock is fixed at the FHIR tests' NOW (Friday 27 February 2026, 15:00 UTC)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from interop.fhir import representation as rep
from scheduling.models import Appointment
from scheduling.services import appointment_note_add
from tests.interop.fhir_support import BASE, parse
from tests.scheduling.conftest import NOW, START, at_new_york

pytestmark = pytest.mark.django_db

READERS = ("front_desk", "prescriber", "patient_a")


def booked_for_patient_a(world) -> Appointment:
    """A session of patient A's plan (so its serviceType names the plan's protocol)."""
    plan = world.clinic.plan(patient=world.patient_a)
    return world.clinic.book(plan, [at_new_york(START, 10)])[0]


def read(world, appointment: Appointment, role: str, **headers):
    return world.client(role).get(BASE + f"Appointment/{appointment.pk}", **headers)


def etag_of(world, appointment: Appointment, role: str) -> str:
    """The read's ETag, checked against the body's meta.versionId."""
    response = read(world, appointment, role)
    assert response.status_code == 200, response.content
    resource = parse(response)
    assert resource.meta.versionId
    assert response["ETag"] == f'W/"{resource.meta.versionId}"'
    return response["ETag"]


def later(minutes: int):
    """The clock moved on, so a save gives the row a new updated_at."""
    return time_machine.travel(NOW + dt.timedelta(minutes=minutes), tick=False)


def rename_protocol(world, name: str) -> None:
    protocol = world.protocol
    protocol.name = name
    protocol.save(update_fields=["name"])


def test_renaming_the_protocol_changes_every_readers_version_and_an_old_if_none_match_gets_the_new_name(world):
    appointment = booked_for_patient_a(world)
    before = {role: etag_of(world, appointment, role) for role in READERS}
    for role in READERS:
        assert read(world, appointment, role, HTTP_IF_NONE_MATCH=before[role]).status_code == 304, role

    rename_protocol(world, "Ketamine 0.5 mg/kg (renamed)")

    for role in READERS:
        after = etag_of(world, appointment, role)
        assert after != before[role], role
        fresh = read(world, appointment, role, HTTP_IF_NONE_MATCH=before[role])
        assert fresh.status_code == 200, role
        assert parse(fresh).serviceType[0].text == "Ketamine 0.5 mg/kg (renamed)", role
        assert read(world, appointment, role, HTTP_IF_NONE_MATCH=after).status_code == 304, role


def test_unchanged_content_keeps_the_version_though_the_row_was_saved(world):
    appointment = booked_for_patient_a(world)
    before = {role: etag_of(world, appointment, role) for role in READERS}
    updated_at = Appointment.objects.get(pk=appointment.pk).updated_at
    # The desk's own note: kept in the session's notes, shown to no one through FHIR.
    with later(5):
        appointment_note_add(
            appointment=appointment, text="Parking pass at the desk", actor=world.clinic.front_desk.user
        )
    row = Appointment.objects.get(pk=appointment.pk)
    assert row.updated_at != updated_at
    for role in READERS:
        assert etag_of(world, appointment, role) == before[role], role
        assert read(world, appointment, role, HTTP_IF_NONE_MATCH=before[role]).status_code == 304, role
        # meta.lastUpdated is still the row's time of change.
        assert parse(read(world, appointment, role)).meta.lastUpdated == row.updated_at, role


def test_an_ehr_comment_changes_a_clinicians_version_and_not_the_desks_or_the_patients(world):
    appointment = booked_for_patient_a(world)
    before = {role: etag_of(world, appointment, role) for role in READERS}
    with later(5):
        appointment_note_add(
            appointment=appointment,
            text="Low mood since the last dose",
            actor=world.clinic.prescriber.user,
            prefix=rep.EHR_NOTE_PREFIX,
        )
    assert parse(read(world, appointment, "prescriber")).comment == "Low mood since the last dose"
    assert etag_of(world, appointment, "prescriber") != before["prescriber"]
    # Their copies say what they said: the same version, which tells nothing of the hidden comment.
    for role in ("front_desk", "patient_a"):
        assert parse(read(world, appointment, role)).comment is None, role
        assert etag_of(world, appointment, role) == before[role], role


def test_a_search_page_carries_each_readers_read_version(world):
    appointment = booked_for_patient_a(world)
    appointment_note_add(
        appointment=appointment, text="Check blood pressure", actor=world.clinic.prescriber.user, prefix="EHR: "
    )
    rename_protocol(world, "Renamed protocol")
    for role in READERS:
        bundle = parse(world.client(role).get(BASE + f"Appointment?patient={world.patient_a.pk}"))
        [entry] = bundle.entry
        assert f'W/"{entry.resource.meta.versionId}"' == etag_of(world, appointment, role), role
