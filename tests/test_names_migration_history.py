"""The names migration (patients/migrations/0005) leaves a history row for each name it changes."""

from __future__ import annotations

import importlib
import unicodedata

import pytest
from django.apps import apps

from patients.models import Patient
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("patients.migrations.0005_patient_names_one_form")


def test_the_name_migration_leaves_a_history_row_for_each_name_it_changes():
    nfd = unicodedata.normalize("NFD", "José")
    patient = PatientFactory(first_name=nfd, last_name="Ruiz")
    Patient.objects.filter(pk=patient.pk).update(first_name=nfd)  # as stored before 9133af9
    assert patient.history.first().first_name == nfd
    migration.names_to_one_form(apps, None)
    patient.refresh_from_db()
    assert patient.first_name == unicodedata.normalize("NFC", "José")
    latest = patient.history.first()
    assert latest.first_name == patient.first_name, "the change of name has no history row (who, when, why)"
