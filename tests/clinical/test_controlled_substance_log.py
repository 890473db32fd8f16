"""The controlled-substance log: written by every administration, never changed, corrected by
new entries, filtered by day and exported as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from clinic.models import Role
from clinical import selectors, services
from clinical.models import AppendOnlyError, ControlledSubstanceEntry
from scheduling.errors import InvalidInput, InvalidState
from tests.clinical.conftest import SESSION_START
from tests.clinical_helpers import record_pre_vitals
from tests.factories import SiteFactory, StaffFactory, UserFactory

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
    rows = list(
        csv.DictReader(
            io.StringIO(selectors.controlled_substance_csv(selectors.controlled_substance_log(), role="nurse"))
        )
    )
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


# --- Correcting who gave it, the route and the start ----------------------------------------

CORRECTED_AT = SESSION_START + dt.timedelta(hours=3)


@pytest.fixture
def nurse_elsewhere(db):
    """A nurse of another site, who has never worked at the session's site."""
    return StaffFactory(role=Role.NURSE, user=UserFactory(username="nurse_elsewhere"), sites=[SiteFactory()])


def _correct(ward, entry, **changes):
    return services.controlled_substance_correct(
        entry=entry,
        reason="Register checked against the chart",
        actor=ward.prescriber.user,
        now=CORRECTED_AT,
        **changes,
    )


def _lines(entry) -> list[tuple]:
    return list(
        ControlledSubstanceEntry.objects.filter(administration_id=entry.administration_id)
        .order_by("pk")
        .values_list("corrects_id", "given_by_id", "route", "administered_at")
    )


def test_a_correction_names_who_really_gave_the_drug(ward, entry):
    correction = _correct(ward, entry, given_by=ward.prescriber)
    original = (None, ward.nurse.pk, "iv", entry.administered_at)
    assert _lines(entry) == [original, (entry.pk, ward.prescriber.pk, "iv", entry.administered_at)]
    administration = correction.administration
    administration.refresh_from_db()
    assert administration.given_by == ward.prescriber
    assert administration.history.first().prev_record.given_by_id == ward.nurse.pk


def test_a_correction_may_name_only_a_clinician_who_may_give_it_at_the_site(ward, entry, nurse_elsewhere):
    with pytest.raises(InvalidInput, match="does not work at") as caught:
        _correct(ward, entry, given_by=nurse_elsewhere)
    assert caught.value.details["field"] == "given_by"
    with pytest.raises(InvalidInput, match="Only an active") as caught:
        _correct(ward, entry, given_by=ward.front_desk)
    assert caught.value.details["field"] == "given_by"
    ward.prescriber.active = False
    ward.prescriber.save(update_fields=["active"])
    with pytest.raises(InvalidInput, match="Only an active"):
        _correct(ward, entry, given_by=ward.prescriber)
    assert _lines(entry) == [(None, ward.nurse.pk, "iv", entry.administered_at)]


def test_a_corrected_route_is_recorded_and_the_dose_is_checked_against_it(ward, entry):
    # The ward's session has no plan and no route of its own (booked before sessions kept their
    # route), so any route may be corrected in; a session with a route keeps it
    # (test_administration_route.py).
    correction = _correct(ward, entry, route="im")
    assert _lines(entry)[-1] == (entry.pk, ward.nurse.pk, "im", entry.administered_at)
    # 0.5 mg/kg of 80 kg is 40 mg, whichever weight-based route; a fixed-dose spray of 56 mg is not.
    correction = _correct(ward, correction, route="intranasal", total_mg=Decimal("56"))
    with pytest.raises(InvalidInput, match=r"does not match 0.500 mg/kg × 80.0 kg") as caught:
        _correct(ward, correction, route="iv")
    assert caught.value.details["field"] == "total_mg"
    with pytest.raises(InvalidInput, match="Route must be one of") as caught:
        _correct(ward, correction, route="subcutaneous")
    assert caught.value.details["field"] == "route"
    assert [line[2] for line in _lines(entry)] == ["iv", "im", "intranasal"]


def test_a_corrected_start_is_checked_as_when_it_was_recorded(ward, entry):
    """Recorded from 10:10 to 10:50, pre-infusion vitals at 10:00: the start moves inside that."""
    correction = _correct(ward, entry, started_at=SESSION_START + dt.timedelta(minutes=15))
    assert _lines(entry) == [
        (None, ward.nurse.pk, "iv", SESSION_START + dt.timedelta(minutes=10)),
        (entry.pk, ward.nurse.pk, "iv", SESSION_START + dt.timedelta(minutes=15)),
    ]
    correction.administration.refresh_from_db()
    assert correction.administration.started_at == SESSION_START + dt.timedelta(minutes=15)
    with pytest.raises(InvalidInput, match="must start after the pre-infusion vitals") as caught:
        _correct(ward, correction, started_at=SESSION_START - dt.timedelta(minutes=5))
    assert caught.value.details["field"] == "started_at"
    with pytest.raises(InvalidInput, match="must end after it starts") as caught:
        _correct(ward, correction, started_at=SESSION_START + dt.timedelta(minutes=50))
    assert caught.value.details["field"] == "started_at"
    assert len(_lines(entry)) == 2


def test_a_correction_that_restates_who_the_route_and_the_start_changes_nothing(ward, entry):
    with pytest.raises(InvalidInput, match="changes nothing"):
        _correct(ward, entry, given_by=ward.nurse, route="iv", started_at=entry.administered_at, lot_number="KX-2231")
    assert len(_lines(entry)) == 1


def test_the_api_corrects_who_the_route_and_the_start_and_names_a_refused_field(ward, entry, nurse_elsewhere):
    # IM is accepted: the ward's session was booked before sessions kept their route (see above).
    url = f"/api/v1/clinical/controlled-substance-log/{entry.pk}/correct/"
    nurse = ward.client("nurse")
    refusals = {
        "route": ({"route": "subcutaneous"}, "not a valid choice"),
        # Another site's nurse is no one the asker may name, as when the administration is recorded.
        "given_by": ({"given_by": nurse_elsewhere.pk}, "does not exist"),
        "started_at": ({"started_at": "2026-03-02T14:55:00Z"}, "must start after the pre-infusion vitals"),
    }
    for field, (body, problem) in refusals.items():
        answer = nurse.post(url, {**body, "reason": "Chart review"}, format="json")
        assert answer.status_code == 400, answer.json()
        assert problem in str(answer.json()["error"]["fields"][field]), answer.json()
    answer = nurse.post(
        url,
        {
            "route": "im",
            "given_by": ward.prescriber.pk,
            "started_at": "2026-03-02T15:12:00Z",
            "reason": "Dr gave it IM at 10:12, per the chart",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["corrects"], body["route"], body["given_by"], body["administered_at"]) == (
        entry.pk,
        "im",
        ward.prescriber.pk,
        "2026-03-02T15:12:00Z",
    )
    assert _lines(entry)[0] == (None, ward.nurse.pk, "iv", SESSION_START + dt.timedelta(minutes=10))
