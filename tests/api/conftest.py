"""A staffed clinic with every persona and a token for each, frozen before the clinic's first day.

Patient B owns the objects the detail endpoints are tried on, so patient A reaching them
must answer 404 exactly like an id that does not exist."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import time_machine
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.models import Chair, OpeningHours
from patients.models import Contraindication, Evaluation, PatientFlag
from scheduling.models import Appointment, AppointmentStatus, Reminder, TreatmentPlan
from scheduling.services import appointment_book, course_book
from tests.clinical_helpers import record_session_for_completion
from tests.factories import AppointmentFactory, PatientFactory, UserFactory, make_personas
from tests.scheduling.conftest import NOW, START, Clinic, make_clinic

ROLES = ["anonymous", "outsider", "front_desk", "nurse", "prescriber", "clinic_admin", "patient_a", "patient_b"]


@dataclass
class World:
    clinic: Clinic
    users: dict  # role -> User (no entry for anonymous)
    tokens: dict  # role -> token key
    plan_b: TreatmentPlan
    draft_plan: TreatmentPlan
    appointment_a: Appointment
    appointment_b: Appointment
    past_b: Appointment
    checked_in_b: Appointment
    evaluation_b: Evaluation
    flag_b: PatientFlag
    flag_rule: Contraindication
    reminder_b: Reminder
    opening_hours: OpeningHours

    @property
    def site(self):
        return self.clinic.site

    def client(self, role: str) -> APIClient:
        client = APIClient()
        if role != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[role]}")
        return client


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def build_world(*, days: int = 40) -> World:
    clinic = make_clinic(days=days)
    personas = make_personas(clinic.site)
    outsider = UserFactory(username="outsider")
    users = {
        "outsider": outsider,
        "front_desk": personas.front_desk.user,
        "nurse": personas.nurse.user,
        "prescriber": personas.prescriber.user,
        "clinic_admin": personas.clinic_admin.user,
        "patient_a": personas.patient_a.user,
        "patient_b": personas.patient_b.user,
    }
    # Some tests move the clock by days (mock.patch of timezone.now), past a real token's lifetime;
    # expiry itself is tested in tests/test_security_tokens.py.
    tokens = {role: AuthToken.objects.create(user=user, expiry=dt.timedelta(days=3650))[1] for role, user in users.items()}
    patient_a, patient_b = personas.patient_a, personas.patient_b
    plan_b = clinic.plan(patient=patient_b)
    booked = course_book(plan=plan_b, actor=clinic.prescriber.user, now=NOW, start_date=START)
    plan_b.refresh_from_db()
    draft_plan = clinic.plan(patient=PatientFactory(home_site=clinic.site))
    appointment_a = appointment_book(
        patient=patient_a, site=clinic.site, starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
        actor=clinic.front_desk.user, now=NOW,
    )
    chair: Chair = clinic.chairs[2]
    nurse = clinic.nurses[0]
    past_b = AppointmentFactory(patient=patient_b, chair=chair, nurse=nurse, starts_at=NOW - dt.timedelta(hours=3))
    checked_in_b = AppointmentFactory(
        patient=patient_b, chair=chair, nurse=nurse, starts_at=NOW - dt.timedelta(minutes=30),
        status=AppointmentStatus.CHECKED_IN, checked_in_at=NOW - dt.timedelta(minutes=40),
    )
    record_session_for_completion(checked_in_b, nurse.user)
    flag_rule = Contraindication.objects.create(code="psychosis", label="Active psychosis", kind="flag")
    Contraindication.objects.create(code="pregnancy", label="Pregnancy", kind="flag")
    flag_b = PatientFlag.objects.create(patient=patient_b, contraindication=flag_rule, recorded_by=clinic.prescriber.user)
    return World(
        clinic=clinic,
        users=users,
        tokens=tokens,
        plan_b=plan_b,
        draft_plan=draft_plan,
        appointment_a=appointment_a,
        appointment_b=booked[0],
        past_b=past_b,
        checked_in_b=checked_in_b,
        evaluation_b=patient_b.evaluations.get(),
        flag_b=flag_b,
        flag_rule=flag_rule,
        reminder_b=Reminder.objects.filter(appointment__patient=patient_b).order_by("pk").first(),
        opening_hours=clinic.site.opening_hours.get(weekday=4),
    )


@pytest.fixture
def world(db, frozen) -> World:
    return build_world()

