"""The controlled-substance log: written by every administration, never changed, corrected by
new entries, filtered by day and exported as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from clinical import selectors, services
from clinical.models import AppendOnlyError, ControlledSubstanceEntry
from scheduling.errors import InvalidInput, InvalidState
from tests.clinical.conftest import SESSION_START
from tests.clinical_helpers import record_pre_vitals

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(ward) -> ControlledSubstanceEntry:
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


def test_an_administration_writes_what_was_given_to_whom_by_whom(ward, entry):
    assert (entry.patient, entry.site, entry.given_by, entry.recorded_by) == (
        ward.session.patient,
        ward.clinic.site,
        ward.nurse,
        ward.nurse.user,
    )
    assert (entry.substance, entry.route, entry.total_mg, entry.lot_number) == (
        "Ketamine",
        "iv",
        Decimal("40.00"),
        "KX-2231",
    )
    assert entry.administered_at == SESSION_START + dt.timedelta(minutes=10)


def test_the_orm_refuses_to_change_or_delete_an_entry(entry):
    entry.total_mg = Decimal("20")
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        ControlledSubstanceEntry.objects.filter(pk=entry.pk).update(total_mg=Decimal("20"))
    with pytest.raises(AppendOnlyError):
        ControlledSubstanceEntry.objects.filter(pk=entry.pk).delete()
    assert ControlledSubstanceEntry.objects.get(pk=entry.pk).total_mg == Decimal("40.00")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE clinical_controlledsubstanceentry SET total_mg = 20 WHERE id = %s",
        "DELETE FROM clinical_controlledsubstanceentry WHERE id = %s",
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_or_delete_an_entry(entry, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [entry.pk])
    assert ControlledSubstanceEntry.objects.get(pk=entry.pk).total_mg == Decimal("40.00")


def test_a_correction_is_a_new_entry_referencing_the_old_one_with_a_reason(ward, entry):
    later = SESSION_START + dt.timedelta(hours=3)
    correction = services.controlled_substance_correct(
        entry=entry,
        total_mg=Decimal("39.5"),
        reason="Pump reported 39.5 mg delivered",
        actor=ward.prescriber.user,
        now=later,
    )
    assert correction.pk != entry.pk
    assert (correction.corrects, correction.total_mg, correction.reason) == (
        entry,
        Decimal("39.5"),
        "Pump reported 39.5 mg delivered",
    )
    entry.refresh_from_db()
    assert entry.total_mg == Decimal("40.00")  # the original line stands
    administration = entry.administration
    administration.refresh_from_db()
    assert administration.total_mg == Decimal("39.50")
    assert "Pump reported" in administration.history.first().history_change_reason
    with pytest.raises(InvalidState, match="already corrected"):
        services.controlled_substance_correct(
            entry=entry, lot_number="KX-9", reason="x", actor=ward.prescriber.user, now=later
        )
    with pytest.raises(InvalidInput, match="reason"):
        services.controlled_substance_correct(
            entry=correction, lot_number="KX-9", reason=" ", actor=ward.prescriber.user, now=later
        )


def test_the_log_filters_by_day_in_the_sites_zone(ward, entry):
    site = ward.clinic.site
    day = SESSION_START.astimezone(site.zone).date()
    assert list(selectors.controlled_substance_log(date_from=day, date_to=day, site=site)) == [entry]
    assert list(selectors.controlled_substance_log(date_from=day + dt.timedelta(days=1), site=site)) == []
    assert list(selectors.controlled_substance_log(date_to=day - dt.timedelta(days=1), site=site)) == []


def test_the_csv_lists_entries_and_corrections(ward, entry):
    services.controlled_substance_correct(
        entry=entry,
        lot_number="KX-2232",
        reason="Lot misread",
        actor=ward.prescriber.user,
        now=SESSION_START + dt.timedelta(hours=1),
    )
    rows = list(csv.DictReader(io.StringIO(selectors.controlled_substance_csv(selectors.controlled_substance_log()))))
    assert [(r["entry"], r["corrects"], r["lot_number"], r["total_mg"], r["reason"]) for r in rows] == [
        (str(entry.pk), "", "KX-2231", "40.00", ""),
        (str(entry.pk + 1), str(entry.pk), "KX-2232", "40.00", "Lot misread"),
    ]
    assert rows[0]["patient"] == "Cara Diaz" and rows[0]["substance"] == "Ketamine"
    assert rows[0]["given_by"] == ward.nurse.display_name


def test_a_mistyped_weight_is_corrected_with_the_amount_really_given(ward, at_chair):
    """Recorded 0.5 mg/kg x 70 kg = 35 mg; the patient weighs 80 kg and was given 40 mg. The
    correction states the true weight and total (checked against each other); the old line stays.
    Without the weight, the true total is refused against the mistyped one."""
    from tests.clinical_helpers import record_session_for_completion

    record_session_for_completion(ward.session, ward.nurse.user)
    entry = ControlledSubstanceEntry.objects.get()
    url = f"/api/v1/clinical/controlled-substance-log/{entry.pk}/correct/"
    total_only = ward.client("prescriber").post(url, {"total_mg": "40", "reason": "0.5 mg/kg of 80 kg"}, format="json")
    assert total_only.status_code == 400
    answer = ward.client("prescriber").post(
        url, {"weight_kg": "80", "total_mg": "40", "reason": "Weight misread: the scale showed 80 kg"}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    entry.administration.refresh_from_db()
    assert (entry.administration.weight_kg, entry.administration.total_mg) == (Decimal("80.0"), Decimal("40.00"))
    lines = list(ControlledSubstanceEntry.objects.order_by("pk").values_list("total_mg", "corrects_id"))
    assert lines == [(Decimal("35.00"), None), (Decimal("40.00"), entry.pk)]
    implausible = ward.client("prescriber").post(
        f"/api/v1/clinical/controlled-substance-log/{answer.json()['id']}/correct/",
        {"weight_kg": "900", "reason": "typo"},
        format="json",
    )
    assert implausible.status_code == 400
    assert "weight" in str(implausible.json()["error"]).lower()
