"""The Django admin shows clinical fields (diagnoses, evaluations, flags, medications, session
notes, a plan's attention reason, questionnaire answers, the session record) only to staff with
a clinical duty (nurses, prescribers): a clinic administrator or a superuser without a clinical
role configures the clinic there, as the API refuses that role all patient data."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from clinic.models import Role
from patients.models import Contraindication, Evaluation, PatientFlag
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


# 22:00 on Monday 2 March in New York (the chart's home site) is already Tuesday 3 March in UTC.
LATE_EVENING_IN_NEW_YORK = dt.datetime(2026, 3, 3, 3, tzinfo=dt.UTC)
NEW_EVALUATION = {
    "evaluator_name": "Dr Admin-Entered",
    "evaluator_credentials": "MD, psychiatrist",
    "diagnosis": "Treatment-resistant major depressive disorder",
    "icd10_code": "F33.2",
}


def _change_form_data(response) -> dict[str, object]:
    """What the admin's change page would post back as it stands: the patient form and every
    inline, each with its management form."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data: dict[str, object] = {}
    for form in forms:
        for bound in form:
            value = bound.value()
            if value is None or value is False:
                continue
            data[bound.html_name] = "on" if value is True else value
    return data


@pytest.mark.parametrize(
    ("evaluated_on", "saved"),
    [("2026-03-03", False), ("2026-03-02", True)],
    ids=["tomorrow at the home site is refused", "today at the home site though tomorrow in UTC"],
)
def test_the_patient_admins_evaluation_inline_refuses_a_date_after_the_home_sites_today(
    client, chart, evaluated_on, saved
):
    patient = chart["patient"]
    prescriber = _admin_user("wide-prescriber", Role.PRESCRIBER)
    url = f"/admin/patients/patient/{patient.pk}/change/"
    with time_machine.travel(LATE_EVENING_IN_NEW_YORK, tick=False):
        assert client.login(request=HttpRequest(), username=prescriber.username, password=PASSWORD)
        data = _change_form_data(client.get(url))
        data["evaluations-TOTAL_FORMS"] = "2"
        data.update({f"evaluations-1-{name}": value for name, value in NEW_EVALUATION.items()})
        data["evaluations-1-evaluated_on"] = evaluated_on
        response = client.post(url, data)
    added = Evaluation.objects.filter(patient=patient, evaluator_name="Dr Admin-Entered")
    if saved:
        assert response.status_code == 302, response.context and response.context["errors"]
        assert added.get().evaluated_on == dt.date(2026, 3, 2)
        return
    assert response.status_code == 200
    [formset] = [
        inline.formset for inline in response.context["inline_admin_formsets"] if inline.formset.prefix == "evaluations"
    ]
    [message] = formset.forms[1].errors["evaluated_on"]
    assert message.startswith("The evaluation date 3 Mar 2026 is in the future: today is 2 Mar 2026 at North")
    assert not added.exists()


@pytest.mark.parametrize(
    ("evaluated_on", "refusal"),
    [
        ("2026-03-03", "The evaluation date 3 Mar 2026 is in the future"),  # after the home site's today
        ("1999-12-31", "The evaluation date 31 Dec 1999 is before 2000: check the year"),
    ],
    ids=["after the home site's today", "before 2000"],
)
def test_the_evaluation_admin_refuses_a_date_with_the_services_message(client, chart, evaluated_on, refusal):
    prescriber = _admin_user("wide-prescriber", Role.PRESCRIBER)
    with time_machine.travel(LATE_EVENING_IN_NEW_YORK, tick=False):
        assert client.login(request=HttpRequest(), username=prescriber.username, password=PASSWORD)
        response = client.post(
            "/admin/patients/evaluation/add/",
            {**NEW_EVALUATION, "patient": chart["patient"].pk, "evaluated_on": evaluated_on},
        )
    assert response.status_code == 200
    [message] = response.context["adminform"].form.errors["evaluated_on"]
    assert message.startswith(refusal)
    assert not Evaluation.objects.filter(evaluator_name="Dr Admin-Entered").exists()


@pytest.mark.parametrize(
    ("evaluated_on", "from_zone", "to_zone", "saved"),
    [
        # At LATE_EVENING_IN_NEW_YORK it is already 3 March, 16:00 in Auckland: dated today there,
        # the evaluation is dated tomorrow for a New York patient.
        (dt.date(2026, 3, 3), "Pacific/Auckland", "America/New_York", False),
        (dt.date(2026, 3, 2), "America/New_York", "Pacific/Auckland", True),
    ],
    ids=["to a zone where its date is tomorrow is refused", "to a zone where its date is past is saved"],
)
def test_the_evaluation_admin_checks_the_date_again_when_the_evaluation_moves_to_another_patient(
    client, evaluated_on, from_zone, to_zone, saved
):
    first = PatientFactory(home_site=SiteFactory(name="First", time_zone=from_zone), evaluation=None)
    second = PatientFactory(home_site=SiteFactory(name="Second", time_zone=to_zone), evaluation=None)
    evaluation = EvaluationFactory(patient=first, evaluated_on=evaluated_on)
    prescriber = _admin_user("wide-prescriber", Role.PRESCRIBER)
    url = f"/admin/patients/evaluation/{evaluation.pk}/change/"
    with time_machine.travel(LATE_EVENING_IN_NEW_YORK, tick=False):
        assert client.login(request=HttpRequest(), username=prescriber.username, password=PASSWORD)
        data = _change_form_data(client.get(url))
        assert data["evaluated_on"] == evaluated_on  # the date as it stands, unchanged
        response = client.post(url, {**data, "patient": second.pk})
    evaluation.refresh_from_db()
    if saved:
        assert response.status_code == 302, response.context and response.context["errors"]
        assert (evaluation.patient, evaluation.evaluated_on) == (second, evaluated_on)
        return
    assert response.status_code == 200
    [message] = response.context["adminform"].form.errors["evaluated_on"]
    assert message.startswith("The evaluation date 3 Mar 2026 is in the future: today is 2 Mar 2026 at Second")
    assert evaluation.patient == first


@pytest.mark.parametrize("role", [Role.CLINIC_ADMIN, Role.PRESCRIBER])
@pytest.mark.parametrize(
    ("evaluated_on", "saved"),
    [(dt.date(2026, 3, 3), False), (dt.date(2026, 3, 2), True)],
    ids=["an evaluation dated tomorrow there is refused", "one dated today there is moved"],
)
def test_the_patient_admin_refuses_a_home_site_where_an_evaluation_would_be_in_the_future(
    client, role, evaluated_on, saved
):
    # At LATE_EVENING_IN_NEW_YORK it is already 3 March, 16:00 in Auckland, the patient's home site. The
    # clinic administrator sees no evaluation in the admin, yet the move is refused for one all the same.
    auckland = SiteFactory(name="Auckland", time_zone="Pacific/Auckland")
    new_york = SiteFactory(name="New York", time_zone="America/New_York")
    patient = PatientFactory(home_site=auckland, evaluation=None)
    EvaluationFactory(patient=patient, evaluated_on=evaluated_on)
    versions = patient.history.count()
    user = _admin_user("wide-staff", role)
    url = f"/admin/patients/patient/{patient.pk}/change/"
    with time_machine.travel(LATE_EVENING_IN_NEW_YORK, tick=False):
        assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
        data = _change_form_data(client.get(url))
        response = client.post(url, {**data, "home_site": new_york.pk})
    patient.refresh_from_db()
    if saved:
        assert response.status_code == 302, response.context and response.context["errors"]
        assert patient.home_site == new_york
        return
    assert response.status_code == 200
    [message] = response.context["adminform"].form.errors["home_site"]
    assert message.startswith(
        f"{patient.full_name}'s home site cannot become New York yet: their evaluation dated 3 Mar 2026 "
        "would be in the future there (today is 2 Mar 2026 at New York)."
    )
    assert (patient.home_site, patient.history.count()) == (auckland, versions)
