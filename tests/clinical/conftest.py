"""A checked-in session at a staffed clinic, every persona, and the clock at the chair.

Personas (what each may do with the session record):
- nurse: records vitals, administration, recovery and discharge; cannot clear a held start.
- prescriber: all the nurse does, and clears a held start with a reason.
- clinic_admin: reads and exports the controlled-substance log; nothing else here.
- front_desk, patient: none of it (403).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import time_machine
from rest_framework.test import APIClient

from clinic.models import Role, StaffMember
from clinic.security.services import token_issue
from scheduling.models import Appointment, AppointmentStatus
from tests.factories import AppointmentFactory, PatientFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import Clinic, make_clinic

SESSION_START = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)  # 10:00 in New York
AT_CHAIR = SESSION_START + dt.timedelta(minutes=5)


@dataclass
class Ward:
    clinic: Clinic
    session: Appointment
    nurse: StaffMember
    prescriber: StaffMember
    front_desk: StaffMember
    admin: StaffMember
    patient_user: object

    def client(self, role: str) -> APIClient:
        user = {
            "nurse": self.nurse.user,
            "prescriber": self.prescriber.user,
            "front_desk": self.front_desk.user,
            "clinic_admin": self.admin.user,
            "patient": self.patient_user,
        }[role]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user)[0]}")
        return client


@pytest.fixture
def ward(db) -> Ward:
    clinic = make_clinic(days=14)
    nurse = clinic.nurses[0]
    patient_user = UserFactory(username="patient_cara")
    patient = PatientFactory(user=patient_user, first_name="Cara", last_name="Diaz", home_site=clinic.site)
    session = AppointmentFactory(
        patient=patient,
        chair=clinic.chairs[0],
        nurse=nurse,
        starts_at=SESSION_START,
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=SESSION_START - dt.timedelta(minutes=10),
    )
    admin = StaffFactory(role=Role.CLINIC_ADMIN, user=UserFactory(username="clinic_admin"), sites=[clinic.site])
    return Ward(
        clinic=clinic,
        session=session,
        nurse=nurse,
        prescriber=clinic.prescriber,
        front_desk=clinic.front_desk,
        admin=admin,
        patient_user=patient_user,
    )


@pytest.fixture
def at_chair():
    with time_machine.travel(AT_CHAIR, tick=False):
        yield AT_CHAIR
