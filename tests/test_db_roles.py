"""The append-only logs are append-only for the app's database role: it can add and read
access-log and controlled-substance rows but not change, delete or truncate them, while
every other table stays writable. Runs on PostgreSQL, as the production roles would."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from clinic.management.commands.db_grant_app_role import append_only_tables
from clinic.models import AccessLog
from clinical import services
from clinical.models import ControlledSubstanceEntry
from patients.models import Patient
from tests.clinical.conftest import SESSION_START, ward  # noqa: F401  (the fixture)
from tests.clinical_helpers import record_pre_vitals

pytestmark = pytest.mark.django_db

LOGS = ["clinic_accesslog", "clinical_controlledsubstanceentry"]


@pytest.fixture
def app_role() -> Iterator[str]:
    """A role like production's clinic_app, made in the test transaction (so rolled back with it)."""
    name = f"test_app_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" NOLOGIN')
    yield name


def as_role(role: str):
    class _AsRole:
        def __enter__(self) -> None:
            with connection.cursor() as cursor:
                cursor.execute(f'SET ROLE "{role}"')

        def __exit__(self, *exc: object) -> None:
            with connection.cursor() as cursor:
                cursor.execute("RESET ROLE")

    return _AsRole()


def refused(sql: str) -> str:
    """Run `sql` in a savepoint and return PostgreSQL's refusal (the test fails if it succeeds)."""
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    return str(caught.value)


def administer(ward) -> ControlledSubstanceEntry:  # noqa: F811
    record_pre_vitals(ward.session, ward.nurse.user)
    administration = services.administration_record(
        appointment=ward.session,
        route="iv",
        dose_mg_per_kg=Decimal("0.5"),
        weight_kg=Decimal("80"),
        total_mg=Decimal("40"),
        started_at=SESSION_START + dt.timedelta(minutes=10),
        ended_at=SESSION_START + dt.timedelta(minutes=50),
        lot_number="KX-2231",
        given_by=ward.nurse,
        actor=ward.nurse.user,
        now=SESSION_START + dt.timedelta(minutes=52),
    )
    return administration.log_entries.get()


def test_the_append_only_tables_are_the_two_logs():
    assert append_only_tables() == LOGS


def test_the_app_role_adds_and_reads_log_rows_but_cannot_change_delete_or_truncate_them(ward, app_role):  # noqa: F811
    call_command("db_grant_app_role", app_role, stdout=open("/dev/null", "w"))  # noqa: SIM115
    with as_role(app_role):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone() == (app_role,)
        # INSERT and SELECT work, through the app's own code paths.
        entry = administer(ward)
        AccessLog.objects.create(
            method="GET", path="/patients/", status_code=200, patient_ids=[ward.session.patient_id]
        )
        assert ControlledSubstanceEntry.objects.filter(pk=entry.pk).exists()
        assert AccessLog.objects.filter(path="/patients/").exists()
        # UPDATE, DELETE and TRUNCATE are refused by privilege (not only by the triggers).
        for table in LOGS:
            for sql in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table} CASCADE"):
                assert f"permission denied for table {table}" in refused(sql), sql
            # Nor can it drop the trigger or take the table over.
            assert "must be owner" in refused(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        # Normal tables stay writable.
        patient = ward.session.patient
        assert Patient.objects.filter(pk=patient.pk).update(escort_name="Cee") == 1
        assert "permission denied for table patients_patient" in refused("TRUNCATE patients_patient CASCADE")
    assert ControlledSubstanceEntry.objects.get(pk=entry.pk).lot_number == "KX-2231"
    assert Patient.objects.get(pk=patient.pk).escort_name == "Cee"


def test_granting_twice_is_harmless(ward, app_role):  # noqa: F811
    call_command("db_grant_app_role", app_role, stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("db_grant_app_role", app_role, stdout=open("/dev/null", "w"))  # noqa: SIM115
    with as_role(app_role):
        AccessLog.objects.create(method="GET", path="/twice/", status_code=200)
        assert "permission denied" in refused("DELETE FROM clinic_accesslog")


def test_tables_created_after_the_grant_are_usable_by_the_app_role(app_role):
    call_command("db_grant_app_role", app_role, stdout=open("/dev/null", "w"))  # noqa: SIM115
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE audit_test_later (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, note text)"
        )
    with as_role(app_role), connection.cursor() as cursor:
        cursor.execute("INSERT INTO audit_test_later (note) VALUES ('x')")
        cursor.execute("UPDATE audit_test_later SET note = 'y'")
        cursor.execute("DELETE FROM audit_test_later")


@pytest.mark.parametrize("role", ["Robert'); DROP TABLE x;--", "no_such_role_here_ever"])
def test_an_odd_or_unknown_role_is_refused(role):
    with pytest.raises(CommandError):
        call_command("db_grant_app_role", role)
