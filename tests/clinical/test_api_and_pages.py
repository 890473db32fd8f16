"""The session record over the API and on the session page, for every persona."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.http import HttpRequest
from django.urls import reverse

from clinical.models import ControlledSubstanceEntry
from scheduling.models import AppointmentStatus
from tests.clinical_helpers import record_pre_vitals, record_session_for_completion
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
V1 = "/api/v1/clinical"
ROLES = ["nurse", "prescriber", "front_desk", "clinic_admin", "patient"]
HIGH = {"phase": "pre", "systolic": 172, "diastolic": 96, "heart_rate": 80, "spo2": 97}


def _expected(role: str, allowed: set[str], ok: int) -> int:
    return ok if role in allowed else 403


@pytest.mark.parametrize("role", ROLES)
def test_recording_vitals_is_for_clinicians(ward, at_chair, role):
    response = ward.client(role).post(f"{V1}/sessions/{ward.session.pk}/vitals/", HIGH, format="json")
    assert response.status_code == _expected(role, {"nurse", "prescriber"}, 201), response.content
    if response.status_code == 403:
        assert set(response.json()["error"]) == {"code", "message", "fields", "details"}


@pytest.mark.parametrize("role", ROLES)
def test_clearing_a_held_start_is_for_prescribers(ward, at_chair, role):
    record_pre_vitals(ward.session, ward.nurse.user, systolic=172, diastolic=96)
    response = ward.client(role).post(
        f"{V1}/sessions/{ward.session.pk}/clear-start/", {"reason": "Rechecked"}, format="json"
    )
    assert response.status_code == _expected(role, {"prescriber"}, 201), response.content


@pytest.mark.parametrize("role", ROLES)
def test_reading_the_session_record_is_for_clinicians(ward, at_chair, role):
    response = ward.client(role).get(f"{V1}/sessions/{ward.session.pk}/")
    assert response.status_code == _expected(role, {"nurse", "prescriber"}, 200)


@pytest.mark.parametrize("role", ROLES)
def test_the_log_and_its_csv_are_for_clinicians_and_administrators(ward, at_chair, role):
    readers = {"nurse", "prescriber", "clinic_admin"}
    client = ward.client(role)
    assert client.get(f"{V1}/controlled-substance-log/").status_code == _expected(role, readers, 200)
    assert client.get(f"{V1}/controlled-substance-log/export/").status_code == _expected(role, readers, 200)


def test_a_held_start_answers_409_with_the_reasons_then_the_prescriber_clears_it(ward, at_chair):
    nurse, prescriber = ward.client("nurse"), ward.client("prescriber")
    assert nurse.post(f"{V1}/sessions/{ward.session.pk}/vitals/", HIGH, format="json").status_code == 201
    refused = nurse.post(f"/api/v1/appointments/{ward.session.pk}/start/")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "start_held"
    assert error["details"]["reasons"] == ["Blood pressure 172/96 is above the clinic's limit of 160 systolic"]
    record = nurse.get(f"{V1}/sessions/{ward.session.pk}/").json()
    assert record["start_held_for"] == error["details"]["reasons"]
    cleared = prescriber.post(
        f"{V1}/sessions/{ward.session.pk}/clear-start/", {"reason": "Rechecked: 150/90"}, format="json"
    )
    assert cleared.status_code == 201
    assert nurse.post(f"/api/v1/appointments/{ward.session.pk}/start/").json()["status"] == "in_chair"


def test_a_session_is_recorded_and_completed_through_the_api(ward, at_chair):
    nurse = ward.client("nurse")
    base = f"{V1}/sessions/{ward.session.pk}"
    nurse.post(f"{base}/vitals/", {**HIGH, "systolic": 128, "diastolic": 82}, format="json")
    assert nurse.post(f"/api/v1/appointments/{ward.session.pk}/start/").status_code == 200
    incomplete = nurse.post(f"/api/v1/appointments/{ward.session.pk}/complete/")
    assert incomplete.status_code == 409 and incomplete.json()["error"]["code"] == "session_record_incomplete"
    # Vitals at 15:05; the infusion runs after them, and the discharge follows 30 minutes of monitoring
    # and the recovery vitals.
    with time_machine.travel(dt.datetime(2026, 3, 2, 16, 30, tzinfo=dt.UTC), tick=False):
        given = nurse.post(
            f"{base}/administration/",
            {
                "route": "iv",
                "dose_mg_per_kg": "0.5",
                "weight_kg": "70",
                "total_mg": "35",
                "started_at": "2026-03-02T15:10:00Z",
                "ended_at": "2026-03-02T15:50:00Z",
                "lot_number": "KX-1",
                "given_by": ward.nurse.pk,
            },
            format="json",
        )
        assert given.status_code == 201, given.content
        assert (
            nurse.post(f"{base}/vitals/", {**HIGH, "phase": "recovery", "systolic": 130}, format="json").status_code
            == 201
        )
        discharged = nurse.post(
            f"{base}/recovery/",
            {
                "side_effects": [],
                "discharged_at": "2026-03-02T16:30:00Z",  # after the recovery vitals just taken
                "driver_name": "Sam Diaz",
            },
            format="json",
        )
        assert discharged.status_code == 200, discharged.content
        assert nurse.post(f"/api/v1/appointments/{ward.session.pk}/complete/").json()["status"] == "completed"
    entries = nurse.get(f"{V1}/controlled-substance-log/?date_from=2026-03-02&date_to=2026-03-02").json()["results"]
    assert [(e["total_mg"], e["lot_number"], e["patient_name"]) for e in entries] == [("35.00", "KX-1", "Cara Diaz")]
    assert nurse.get(f"{V1}/controlled-substance-log/?date_from=2026-03-03").json()["results"] == []


def test_the_csv_export_and_a_correction_through_the_api(ward, at_chair):
    record_session_for_completion(ward.session, ward.nurse.user)
    entry = ControlledSubstanceEntry.objects.get()
    corrected = ward.client("prescriber").post(
        f"{V1}/controlled-substance-log/{entry.pk}/correct/", {"total_mg": "34", "reason": "Pump log"}, format="json"
    )
    assert corrected.status_code == 201 and corrected.json()["corrects"] == entry.pk
    assert (
        ward.client("clinic_admin")
        .post(f"{V1}/controlled-substance-log/{entry.pk}/correct/", {"total_mg": "33", "reason": "x"}, format="json")
        .status_code
        == 403
    )
    response = ward.client("clinic_admin").get(f"{V1}/controlled-substance-log/export/")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    # The correction's reason is clinical text: the administrator's export says one was recorded.
    assert [(r["total_mg"], r["corrects"], r["reason"]) for r in rows] == [
        ("35.00", "", ""),
        ("34.00", str(entry.pk), "reason recorded (clinicians only)"),
    ]
    rows = list(
        csv.DictReader(
            io.StringIO(ward.client("prescriber").get(f"{V1}/controlled-substance-log/export/").content.decode())
        )
    )
    assert [r["reason"] for r in rows] == ["", "Pump log"]


# --- Pages ----------------------------------------------------------------------------------


def _login(client, staff_or_user) -> None:
    user = getattr(staff_or_user, "user", staff_or_user)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)  # axes needs a request


@pytest.mark.parametrize(
    ("who", "status"), [("nurse", 200), ("prescriber", 200), ("front_desk", 403), ("admin", 403), ("patient_user", 403)]
)
def test_the_session_page_is_for_clinicians(client, ward, at_chair, who, status):
    _login(client, getattr(ward, who))
    assert client.get(reverse("clinical:session", args=[ward.session.pk])).status_code == status


@pytest.mark.parametrize(
    ("who", "status"), [("nurse", 200), ("prescriber", 200), ("admin", 200), ("front_desk", 403), ("patient_user", 403)]
)
def test_the_log_page_and_csv_are_for_clinicians_and_administrators(client, ward, at_chair, who, status):
    _login(client, getattr(ward, who))
    assert client.get(reverse("clinical:cs-log")).status_code == status
    assert client.get(reverse("clinical:cs-log-csv")).status_code == status


def test_on_the_page_high_vitals_hold_the_start_until_a_prescriber_clears_it(client, ward, at_chair):
    url = reverse("clinical:session", args=[ward.session.pk])
    _login(client, ward.nurse)
    page = client.post(url, {"form": "vitals", **HIGH}, follow=True)
    assert "Start held:" in page.content.decode()
    assert "Blood pressure 172/96 is above the clinic&#x27;s limit of 160 systolic" in page.content.decode()
    assert "Clear to start</button>" not in page.content.decode()  # nurses cannot
    refused = client.post(url, {"form": "start"})
    assert refused.status_code == 409
    client.logout()
    _login(client, ward.prescriber)
    assert client.post(url, {"form": "clear", "reason": ""}).status_code == 400
    client.post(url, {"form": "clear", "reason": "Rechecked at rest: 152/90"}, follow=True)
    page = client.post(url, {"form": "start"}, follow=True)
    assert "The session has started." in page.content.decode()
    ward.session.refresh_from_db()
    assert ward.session.status == AppointmentStatus.IN_CHAIR
