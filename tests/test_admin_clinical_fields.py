"""The Django admin shows clinical fields (diagnoses, evaluations, flags, medications, session
notes, a plan's attention reason, questionnaire answers, the session record) only to staff with
a clinical duty (nurses, prescribers): a clinic administrator or a superuser without a clinical
role configures the clinic there, as the API refuses that role all patient data."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from clinic.models import Role
from patients.models import Contraindication, PatientFlag
from scheduling.models import TreatmentPlan
from tests.factories import (
    PASSWORD,
    AppointmentFactory,
    ChairFactory,
    EvaluationFactory,
    PatientFactory,
    PlanFactory,
    SiteFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MARKERS = {
    "diagnosis": "Diagnosis-marker bipolar II disorder",
    "medications": "Medications-marker lithium 900 mg",
    "flag": "Flag-marker seizure in 2019",
    "attention": "Attention-marker PHQ-9 rose by 6",
    "notes": "Notes-marker nausea after 40 minutes",
    "override": "Override-marker BP 150/95 accepted",
}
CLINICAL_LISTS = [
    "/admin/patients/evaluation/",
    "/admin/patients/patientflag/",
    "/admin/clinical/vitalsigns/",
    "/admin/clinical/startclearance/",
    "/admin/clinical/administration/",
    "/admin/clinical/recovery/",
    "/admin/measures/questionnaireresponse/",
]


@pytest.fixture
def chart():
    site = SiteFactory(name="North")
    patient = PatientFactory(home_site=site, medications=MARKERS["medications"], evaluation=None)
    evaluation = EvaluationFactory(patient=patient, diagnosis=MARKERS["diagnosis"])
    rule = Contraindication.objects.create(label="Seizure disorder", code="seizure-x", kind="flag")
    PatientFlag.objects.create(
        patient=patient, contraindication=rule, notes=MARKERS["flag"], recorded_by=evaluation.recorded_by
    )
    plan = PlanFactory(patient=patient, site=site)
    TreatmentPlan.objects.filter(pk=plan.pk).update(needs_attention=True, attention_reason=MARKERS["attention"])
    appointment = AppointmentFactory(
        patient=patient,
        plan=plan,
        chair=ChairFactory(site=site),
        notes=MARKERS["notes"],
        rule_override_reason=MARKERS["override"],
    )
    return {"patient": patient, "evaluation": evaluation, "plan": plan, "appointment": appointment}


def _admin_user(username: str, role: str, *, superuser: bool = False):
    user = UserFactory(username=username, is_staff=True, is_superuser=superuser)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=role, all_sites=True)
    return user


def _pages(chart) -> list[str]:
    patient, plan, appointment = chart["patient"], chart["plan"], chart["appointment"]
    return [
        "/admin/",
        "/admin/patients/patient/",
        f"/admin/patients/patient/{patient.pk}/change/",
        f"/admin/patients/patient/{patient.pk}/history/",
        "/admin/scheduling/treatmentplan/",
        f"/admin/scheduling/treatmentplan/{plan.pk}/change/",
        f"/admin/scheduling/treatmentplan/{plan.pk}/history/",
        "/admin/scheduling/appointment/",
        f"/admin/scheduling/appointment/{appointment.pk}/change/",
        f"/admin/scheduling/appointment/{appointment.pk}/history/",
        f"/admin/scheduling/appointment/?q={MARKERS['notes'][:12]}",
        *CLINICAL_LISTS,
        f"/admin/patients/evaluation/{chart['evaluation'].pk}/change/",
    ]


@pytest.mark.parametrize(
    ("role", "superuser"),
    [(Role.CLINIC_ADMIN, False), (Role.CLINIC_ADMIN, True), (Role.FRONT_DESK, True)],
    ids=["clinic-wide admin", "superuser clinic admin", "superuser front desk"],
)
def test_a_role_without_a_clinical_duty_sees_no_clinical_field_in_the_admin(client, chart, role, superuser):
    user = _admin_user("setup", role, superuser=superuser)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    for url in _pages(chart):
        response = client.get(url)
        assert response.status_code in (200, 403), url
        page = response.content.decode()
        for marker in MARKERS.values():
            assert marker not in page, (url, marker)
    for url in CLINICAL_LISTS:
        assert client.get(url).status_code == 403, url
    # The set-up itself still works: the patient's contact details and the plan's schedule.
    page = client.get(f"/admin/patients/patient/{chart['patient'].pk}/change/")
    assert page.status_code == 200
    assert 'name="email"' in page.content.decode()
    assert 'name="medications"' not in page.content.decode()
    assert "Evaluation" not in page.content.decode()


def test_a_prescriber_in_the_admin_still_sees_the_clinical_record(client, chart):
    user = _admin_user("wide-prescriber", Role.PRESCRIBER)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    page = client.get(f"/admin/patients/patient/{chart['patient'].pk}/change/").content.decode()
    assert MARKERS["diagnosis"] in page and MARKERS["medications"] in page and MARKERS["flag"] in page
    assert (
        MARKERS["attention"]
        in client.get(f"/admin/scheduling/treatmentplan/{chart['plan'].pk}/change/").content.decode()
    )
    assert client.get("/admin/clinical/vitalsigns/").status_code == 200


def test_a_nurse_reads_evaluations_in_the_admin_but_only_a_prescriber_records_or_changes_one(client, chart):
    evaluation = chart["patient"].evaluations.get()
    nurse = _admin_user("wide-nurse", Role.NURSE)
    assert client.login(request=HttpRequest(), username=nurse.username, password=PASSWORD)
    assert client.get("/admin/patients/evaluation/").status_code == 200
    assert client.get("/admin/patients/evaluation/add/").status_code == 403
    page = client.get(f"/admin/patients/evaluation/{evaluation.pk}/change/")
    assert page.status_code == 200 and MARKERS["diagnosis"] in page.content.decode()
    assert 'name="diagnosis"' not in page.content.decode(), "read only for a nurse"
    client.logout()
    prescriber = _admin_user("wide-prescriber", Role.PRESCRIBER)
    assert client.login(request=HttpRequest(), username=prescriber.username, password=PASSWORD)
    assert client.get("/admin/patients/evaluation/add/").status_code == 200
    assert 'name="diagnosis"' in client.get(f"/admin/patients/evaluation/{evaluation.pk}/change/").content.decode()
