"""A clinic with the shared personas; patient A has a booked induction course.

Personas (what each may see of questionnaires and outcomes):
- front_desk, clinic_admin: nothing (403): scores are clinical data.
- nurse, prescriber: every patient's responses, submitting for any patient, outcome summaries.
- patient_a, patient_b: submit and list their own responses only; the other's answer 404.

The course is booked on Friday 27 February 2026 (first session Monday 2 March); tests then
run on 20 April 2026, after the induction, unless they say otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import time_machine
from rest_framework.test import APIClient

from clinic.security.services import token_issue
from measures.models import QuestionnaireResponse, Source
from measures.services import questionnaire_submit
from patients.models import Patient
from scheduling.models import Appointment, TreatmentPlan
from scheduling.services import course_book
from tests.factories import Personas, make_personas
from tests.scheduling.conftest import NOW, START, Clinic, make_clinic

LATER = dt.datetime(2026, 4, 20, 15, tzinfo=dt.UTC)
PHQ9_SEVERE = [3, 3, 2, 2, 2, 2, 2, 2, 0]  # 18
ROLES = ["front_desk", "nurse", "prescriber", "clinic_admin", "patient_a", "patient_b"]


@dataclass
class World:
    clinic: Clinic
    personas: Personas
    plan_a: TreatmentPlan
    sessions_a: list[Appointment]
    tokens: dict[str, str]

    @property
    def patient_a(self) -> Patient:
        return self.personas.patient_a

    @property
    def patient_b(self) -> Patient:
        return self.personas.patient_b

    def user(self, role: str):
        return getattr(self.personas, role).user

    def client(self, role: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[role]}")
        return client

    def record(
        self, patient: Patient, instrument: str, answers: list[int], when: dt.datetime, **kwargs
    ) -> QuestionnaireResponse:
        return questionnaire_submit(
            patient=patient,
            instrument=instrument,
            answers=answers,
            entered_by=self.user("nurse"),
            source=Source.STAFF,
            now=LATER,
            completed_at=when,
            **kwargs,
        )


def phq9(total: int, item9: int = 0) -> list[int]:
    """Answers adding up to `total`, with item 9 as given."""
    rest = total - item9
    items = []
    for _ in range(8):
        value = min(3, rest)
        items.append(value)
        rest -= value
    assert rest == 0, "total too high for the first eight items"
    return [*items, item9]


@pytest.fixture
def world(db):
    with time_machine.travel(NOW, tick=False):
        clinic = make_clinic(days=80)
        personas = make_personas(clinic.site)
        plan_a = clinic.plan(patient=personas.patient_a)
        sessions_a = course_book(plan=plan_a, actor=clinic.prescriber.user, now=NOW, start_date=START)
        plan_a.refresh_from_db()
    with time_machine.travel(LATER, tick=False):
        # Issued when the tests run: API tokens expire.
        tokens = {role: token_issue(user=getattr(personas, role).user)[0] for role in ROLES}
        yield World(clinic=clinic, personas=personas, plan_a=plan_a, sessions_a=sessions_a, tokens=tokens)
