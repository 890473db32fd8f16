"""FHIR R4 AppointmentStatus (https://hl7.org/fhir/R4/codesystem-appointmentstatus.html): "arrived:
the patient has arrived and is waiting to be seen"; "checked-in: all pre-encounter administrative
work is complete, and the encounter may begin". The workflow runs booked -> arrived -> checked-in
-> fulfilled. A session in the chair, the infusion under way, is `checked-in` as a checked-in one
is, so an EHR following it never sees it step back to `arrived`; status=checked-in finds both,
and status=arrived (a valid code) finds none."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import BASE
from tests.scheduling.conftest import at_new_york

pytestmark = pytest.mark.django_db

FHIR_ORDER = ["booked", "arrived", "checked-in", "fulfilled"]
# Friday 27 February 2026, the frozen clock's day at the New York clinic.
DAY = dt.date(2026, 2, 27)


def _session(world, hour: int, status: AppointmentStatus) -> Appointment:
    clinic = world.clinic
    return Appointment.objects.create(
        patient=world.patient_a,
        site=clinic.site,
        chair=clinic.chairs[hour % 2],
        nurse=clinic.nurses[0],
        starts_at=at_new_york(DAY, hour),
        ends_at=at_new_york(DAY, hour + 2),
        status=status,
    )


def _status_of(world, appointment: Appointment) -> str:
    response = world.client("front_desk").get(BASE + f"Appointment/{appointment.pk}")
    assert response.status_code == 200
    return json.loads(response.content)["status"]


def _found(world, query: str) -> list[str]:
    response = world.client("front_desk").get(BASE + query)
    assert response.status_code == 200, response.content[:300]
    return sorted(e["resource"]["id"] for e in json.loads(response.content).get("entry", []))


def test_the_fhir_status_never_steps_back_as_the_session_goes_on(world):
    appointment = _session(world, 9, AppointmentStatus.BOOKED)
    seen = []
    for status in (
        AppointmentStatus.BOOKED,
        AppointmentStatus.CHECKED_IN,
        AppointmentStatus.IN_CHAIR,
        AppointmentStatus.COMPLETED,
    ):
        Appointment.objects.filter(pk=appointment.pk).update(status=status)
        seen.append(_status_of(world, appointment))
    assert seen == ["booked", "checked-in", "checked-in", "fulfilled"], seen
    positions = [FHIR_ORDER.index(s) for s in seen]
    assert positions == sorted(positions), seen


def test_status_checked_in_finds_the_checked_in_and_the_in_chair_sessions(world):
    checked_in = _session(world, 9, AppointmentStatus.CHECKED_IN)
    in_chair = _session(world, 12, AppointmentStatus.IN_CHAIR)
    _session(world, 15, AppointmentStatus.BOOKED)
    assert _found(world, "Appointment?status=checked-in") == sorted([str(checked_in.pk), str(in_chair.pk)])


def test_status_arrived_is_a_valid_code_that_finds_no_session(world):
    _session(world, 9, AppointmentStatus.CHECKED_IN)
    _session(world, 12, AppointmentStatus.IN_CHAIR)
    assert _found(world, "Appointment?status=arrived") == []
