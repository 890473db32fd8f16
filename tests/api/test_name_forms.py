"""A name is stored and searched in one Unicode form (NFC): "José" typed as é or as e + a combining
accent is one name, whichever way a write (registration, update, admin) or a search arrives."""

from __future__ import annotations

import importlib
import unicodedata

from django.apps import apps

from patients.models import Patient
from patients.services import patient_update

V1 = "/api/v1"
COMPOSED, DECOMPOSED = "Zoë Núñez", unicodedata.normalize("NFD", "Zoë Núñez")


def _named(patient: Patient, first: str, last: str) -> Patient:
    """Written past every service and model check, as an old row or a raw import would be."""
    Patient.objects.filter(pk=patient.pk).update(first_name=first, last_name=last)
    patient.refresh_from_db()
    return patient


def test_an_update_stores_the_composed_form_and_the_same_name_decomposed_is_no_change(world):
    patient = world.appointment_a.patient
    first, last = DECOMPOSED.split(" ")
    patient_update(patient=patient, actor=world.users["front_desk"], fields={"first_name": first, "last_name": last})
    patient.refresh_from_db()
    assert (patient.first_name, patient.last_name) == tuple(COMPOSED.split(" "))
    history = patient.history.count()

    patient_update(patient=patient, actor=world.users["front_desk"], fields={"first_name": first, "last_name": last})

    assert patient.history.count() == history, "the same name in the other form wrote a change"


def test_a_validated_save_such_as_the_admins_stores_the_composed_form(world):
    patient = world.appointment_a.patient
    patient.first_name, patient.last_name = DECOMPOSED.split(" ")
    patient.full_clean()
    patient.save()
    patient.refresh_from_db()
    assert patient.full_name == COMPOSED


def test_the_api_search_finds_a_name_typed_in_the_other_form(world):
    _named(world.appointment_a.patient, *COMPOSED.split(" "))
    client = world.client("front_desk")
    for typed in (COMPOSED.split(" ")[1], DECOMPOSED.split(" ")[1]):
        found = client.get(f"{V1}/patients/", {"search": typed}).json()
        rows = found["results"] if isinstance(found, dict) else found
        assert [row["id"] for row in rows] == [world.appointment_a.patient_id], typed


def test_the_migration_brings_names_stored_decomposed_to_the_composed_form(world):
    stored = _named(world.appointment_a.patient, *DECOMPOSED.split(" "))
    other = world.plan_b.patient
    untouched = other.full_name
    migration = importlib.import_module("patients.migrations.0005_patient_names_one_form")

    migration.names_to_one_form(apps, None)

    stored.refresh_from_db()
    other.refresh_from_db()
    assert stored.full_name == COMPOSED
    assert unicodedata.is_normalized("NFC", stored.full_name)
    assert other.full_name == untouched
