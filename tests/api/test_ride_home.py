"""POST /api/v1/appointments/<id>/ride/ records who drives the patient home: the front desk and
clinicians (the check-in's roles) may; a patient, a clinic administrator and staff of another site
may not."""

from __future__ import annotations

import pytest
import time_machine

from scheduling import services
from scheduling.models import Appointment
from tests.api.conftest import NOW, ROLES, WIDE_ROLES

V1 = "/api/v1"
DESK = {"front_desk", "nurse", "prescriber"}


@pytest.fixture
def world(module_world, db):
    with time_machine.travel(NOW, tick=False):
        yield module_world


def _ride(world, role: str, appointment: Appointment, body: dict):
    return world.client(role).post(f"{V1}/appointments/{appointment.pk}/ride/", body, format="json")


def _expected(role: str) -> int:
    if role == "anonymous":
        return 401
    return 200 if WIDE_ROLES.get(role, role) in DESK else 403


@pytest.mark.parametrize("role", [*ROLES, *WIDE_ROLES])
def test_who_may_record_a_ride_home(world, role):
    session = world.appointment_b
    response = _ride(world, role, session, {"ride_home": "Sam Archer (partner)"})
    assert response.status_code == _expected(role), response.content[:300]
    session.refresh_from_db()
    if response.status_code == 200:
        assert response.json()["ride_home"] == "Sam Archer (partner)"
        assert session.ride_home == "Sam Archer (partner)"
        assert session.history.first().history_change_reason == "Ride home recorded"
    else:
        assert set(response.json()["error"]) == {"code", "message", "fields", "details"}
        assert session.ride_home != "Sam Archer (partner)"


def test_the_patient_may_not_record_the_ride_of_their_own_session(world):
    response = _ride(world, "patient_b", world.appointment_b, {"ride_home": "My neighbour"})
    assert response.status_code == 403


def test_staff_of_another_site_get_404_and_clinic_wide_staff_record_it(world):
    response = _ride(world, "front_desk", world.two.appointment_b, {"ride_home": "Sam"})
    assert response.status_code == 404
    response = _ride(world, "wide_prescriber", world.two.appointment_b, {"ride_home": "Sam"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ride_home": "   "}, "who drives the patient home"),
        ({"ride_home": "x" * 121}, "120"),
        ({"ride_home": "Sam\x1b[2J"}, "Control characters"),
        ({}, "required"),
        ({"ride_home": "Sam", "driver_phone": "555"}, ""),
    ],
    ids=["blank", "too-long", "control-characters", "missing", "unknown-field"],
)
def test_a_bad_ride_is_a_400_naming_the_field(world, body, message):
    response = _ride(world, "front_desk", world.appointment_b, body)
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert message in str(error)
    assert (
        "ride_home" in error["fields"]
        or "driver_phone" in error["fields"]
        or error["details"] == {"field": "ride_home"}
    )


def test_a_ride_for_a_cancelled_session_is_a_409(world):
    session = world.appointment_b
    services.appointment_cancel(appointment=session, actor=world.clinic.front_desk.user, reason="Flu", now=NOW)
    response = _ride(world, "front_desk", session, {"ride_home": "Sam"})
    assert response.status_code == 409
    assert "cancelled" in response.json()["error"]["message"]


def test_recording_the_same_ride_again_answers_200_and_adds_no_history(world):
    session = world.appointment_b
    assert _ride(world, "front_desk", session, {"ride_home": "Sam"}).status_code == 200
    rows = session.history.count()
    again = _ride(world, "nurse", session, {"ride_home": "Sam"})
    assert again.status_code == 200 and again.json()["ride_home"] == "Sam"
    assert session.history.count() == rows
