"""People and data for the page tests.

Personas (what each may see on the web pages):
- desk (front desk): day board, week, patient search, patient page without screening, booking, session buttons.
- nurse, prescriber (clinicians): all of the above plus screening, plan timeline, plan changes and history.
- admin (clinic administrator): the board and week read-only (no patient names or links, no buttons), the
  controlled-substance log and the Django admin; no patient search or booking.
- patient_a, patient_b: the portal only, each their own sessions; anything else answers 403 or 404.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import time_machine
from django.http import HttpRequest

from clinic.models import Role, StaffMember
from patients.models import Patient
from scheduling.models import Appointment, TreatmentPlan
from scheduling.services import appointment_cancel, course_book
from tests.conftest import built_for_the_test
from tests.factories import PASSWORD, PatientFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import NOW, START, Clinic, make_clinic


@dataclass
class Web:
    clinic: Clinic
    desk: StaffMember
    nurse: StaffMember
    prescriber: StaffMember
    admin: StaffMember
    patient_a: Patient
    patient_b: Patient
    plan_a: TreatmentPlan
    plan_b: TreatmentPlan
    sessions_a: list[Appointment]
    sessions_b: list[Appointment]


def make_patient(clinic: Clinic, username: str, first: str, last: str) -> Patient:
    user = UserFactory(username=username, first_name=first, last_name=last)
    return PatientFactory(user=user, first_name=first, last_name=last, home_site=clinic.site, escort_name="")


@pytest.fixture
def frozen():
    """The clinic fixture plans from Monday 2 March 2026; pages take their own `now`."""
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def web(request, web_built, db, frozen) -> Web:
    """The clinic of the pages' tests, as built_once_per_module (tests/conftest.py) hands it: a deep
    copy of the module's one build, or built for this test where the module cannot share one."""
    return built_for_the_test(request, web_built, build_web)


def build_web() -> Web:
    # The one nurse sets up both patients' sessions at the same minute (the pages' tests were
    # written before nurse work was modelled), so the site allows that.
    clinic = make_clinic(setups_per_nurse=3)
    admin = StaffFactory(user=UserFactory(username="clinicadmin"), role=Role.CLINIC_ADMIN, sites=[clinic.site])
    patient_a = make_patient(clinic, "patient_a", "Alice", "Archer")
    patient_b = make_patient(clinic, "patient_b", "Bob", "Baker")
    plan_a = clinic.plan(patient=patient_a)
    plan_b = clinic.plan(patient=patient_b)
    sessions_a = course_book(plan=plan_a, actor=clinic.front_desk.user, now=NOW, start_date=START)
    sessions_b = course_book(plan=plan_b, actor=clinic.front_desk.user, now=NOW, start_date=START)
    return Web(
        clinic=clinic,
        desk=clinic.front_desk,
        nurse=clinic.nurses[0],
        prescriber=clinic.prescriber,
        admin=admin,
        patient_a=patient_a,
        patient_b=patient_b,
        plan_a=plan_a,
        plan_b=plan_b,
        sessions_a=sessions_a,
        sessions_b=sessions_b,
    )


def login(client, user) -> None:
    # django-axes checks every authentication against the request it came with.
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)


__all__ = ["NOW", "START", "Web", "dt", "login", "make_patient"]


# The words a short induction's flag begins with (scheduling.services.appointments).
SHORT_COURSE_REASON = "Induction now short by 1 session"


@pytest.fixture
def flagged(web):
    """Patient A cancelled the third session of the induction: the plan is flagged, one short."""
    appointment_cancel(appointment=web.sessions_a[2], actor=web.patient_a.user, reason="Away", now=NOW, by_patient=True)
    web.plan_a.refresh_from_db()
    assert web.plan_a.needs_attention and SHORT_COURSE_REASON in web.plan_a.attention_reason
    return web
