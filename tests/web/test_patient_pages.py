"""Registering a patient, creating a plan and the screening override from the
web: who may, staff only at their sites, clear form errors, and the eligibility
screen deciding whether the course can be booked."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.errors import InvalidInput
from clinic.models import Role
from clinic.permissions import PrescribersOnly
from patients.models import Contraindication, Patient
from scheduling.models import PlanStatus, TreatmentPlan
from tests.factories import PatientFactory, SiteFactory, StaffFactory, UserFactory
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

NEW_PATIENT = {
    "first_name": "Dana",
    "last_name": "Ostrander",
    "date_of_birth": "1979-04-02",
    "email": "dana@example.org",
    "mobile_phone": "+12025550123",
    "preferred_channel": "email",
    "reminder_consent": "on",
    "escort_name": "Lee Ostrander",
}


def _plan_form(web, **extra):
    return {
        "protocol": web.clinic.protocol.pk,
        "site": web.clinic.site.pk,
        "start_date": "2026-03-09",
        "preferred_weekdays": ["0", "2", "4"],
        **extra,
    }


def _persona(web, name):
    return {"desk": web.desk, "nurse": web.nurse, "prescriber": web.prescriber, "admin": web.admin}[name].user


@pytest.mark.parametrize(
    ("persona", "register", "plan", "screening"),
    [("desk", 200, 403, 403), ("nurse", 200, 200, 200), ("prescriber", 200, 200, 200), ("admin", 403, 403, 403)],
)
def test_each_role_opens_only_its_pages(client, web, persona, register, plan, screening):
    loner = PatientFactory(home_site=web.clinic.site)
    login(client, _persona(web, persona))
    assert client.get(reverse("web:patient-register")).status_code == register
    assert client.get(reverse("web:plan-new", args=[loner.pk])).status_code == plan
    assert client.get(reverse("web:plan-screening", args=[web.plan_a.pk])).status_code == screening


def test_patients_get_403_and_staff_of_another_site_404(client, web):
    login(client, web.patient_a.user)
    assert client.get(reverse("web:patient-register")).status_code == 403
    assert client.get(reverse("web:plan-screening", args=[web.plan_a.pk])).status_code == 403
    client.logout()
    outsider = StaffFactory(role=Role.PRESCRIBER, sites=[SiteFactory(name="Lakeside")], user=UserFactory(username="lk"))
    login(client, outsider.user)
    assert client.get(reverse("web:plan-new", args=[web.patient_a.pk])).status_code == 404
    assert client.get(reverse("web:plan-screening", args=[web.plan_a.pk])).status_code == 404
    response = client.post(reverse("web:patient-register"), {**NEW_PATIENT, "home_site": web.clinic.site.pk})
    assert response.status_code == 400  # not one of their sites: the choice is refused
    assert not Patient.objects.filter(last_name="Ostrander").exists()


def test_the_front_desk_registers_a_patient_and_the_history_says_who(client, web):
    login(client, web.desk.user)
    response = client.post(reverse("web:patient-register"), {**NEW_PATIENT, "home_site": web.clinic.site.pk})
    assert response.status_code == 302
    patient = Patient.objects.get(last_name="Ostrander")
    assert response["Location"] == reverse("web:patient", args=[patient.pk])
    assert (patient.home_site, patient.reminder_consent, patient.escort_name) == (
        web.clinic.site,
        True,
        "Lee Ostrander",
    )
    assert patient.reminder_consent_changed_at is not None
    record = patient.history.first()
    assert (record.history_user, record.history_change_reason) == (web.desk.user, "Registered")
    # The front desk's form has no screening fields.
    assert "seizure_history" not in client.get(reverse("web:patient-register")).content.decode()


def test_registration_errors_are_explained_and_nothing_is_saved(client, web):
    login(client, web.desk.user)
    url = reverse("web:patient-register")
    bad = {
        **NEW_PATIENT,
        "home_site": web.clinic.site.pk,
        "date_of_birth": "2099-01-01",
        "preferred_channel": "sms",
        "mobile_phone": "",
        "first_name": "",
    }
    page = client.post(url, bad).content.decode()
    assert "Date of birth cannot be in the future (today is" in page
    assert "Text-message reminders need a mobile number." in page
    assert "This field is required." in page
    assert not Patient.objects.filter(last_name="Ostrander").exists()
    client.post(url, {**NEW_PATIENT, "home_site": web.clinic.site.pk})
    again = client.post(url, {**NEW_PATIENT, "home_site": web.clinic.site.pk, "first_name": "dana"})
    assert again.status_code == 409
    assert "Dana Ostrander, born 2 Apr 1979, is already registered." in again.content.decode()
    assert "Open the existing chart" in again.content.decode()
    assert Patient.objects.filter(last_name="Ostrander").count() == 1


def test_a_prescriber_creates_a_plan_for_an_eligible_patient_and_can_book_it(client, web):
    patient = PatientFactory(home_site=web.clinic.site, first_name="Eve", last_name="Long")
    login(client, web.prescriber.user)
    page = client.get(reverse("web:plan-new", args=[patient.pk])).content.decode()
    assert "Eligible: no contraindication on file." in page
    response = client.post(reverse("web:plan-new", args=[patient.pk]), _plan_form(web, maintenance_interval_days="30"))
    assert response.status_code == 302
    plan = TreatmentPlan.objects.get(patient=patient)
    assert response["Location"] == reverse("web:plan-screening", args=[plan.pk])
    assert (plan.status, plan.prescriber, plan.maintenance_interval_days) == (PlanStatus.DRAFT, web.prescriber, 30)
    assert plan.preferred_weekdays == [0, 2, 4]
    screening = client.get(response["Location"]).content.decode()
    assert "Book induction course" in screening and "Treat despite the screening" not in screening


def test_a_nurse_writes_up_a_plan_for_a_prescriber_of_the_site(client, web):
    """Clinicians, prescribers and infusion nurses, create plans (../shared/domain.md): a nurse
    names the prescriber answerable for the plan, one who works at the nurse's sites; the
    plan's history says the nurse wrote it."""
    patient = PatientFactory(home_site=web.clinic.site)
    elsewhere = StaffFactory(
        role=Role.PRESCRIBER, sites=[SiteFactory(name="Lakeside")], user=UserFactory(username="lk")
    )
    login(client, web.nurse.user)
    url = reverse("web:plan-new", args=[patient.pk])
    assert url in client.get(reverse("web:patient", args=[patient.pk])).content.decode()
    page = client.get(url)
    assert list(page.context["form"].fields["prescriber"].queryset) == [web.prescriber]
    assert 'name="prescriber"' in page.content.decode()
    missing = client.post(url, _plan_form(web))
    assert missing.status_code == 400 and missing.context["form"].errors["prescriber"] == ["This field is required."]
    other = client.post(url, _plan_form(web, prescriber=elsewhere.pk))
    assert other.status_code == 400
    assert not TreatmentPlan.objects.filter(patient=patient).exists()
    response = client.post(url, _plan_form(web, prescriber=web.prescriber.pk))
    assert response.status_code == 302
    plan = TreatmentPlan.objects.get(patient=patient)
    assert (plan.prescriber, plan.created_by) == (web.prescriber, web.nurse.user)


def test_a_prescriber_writes_their_own_plan_and_is_not_asked_for_one(client, web):
    login(client, web.prescriber.user)
    form = client.get(reverse("web:plan-new", args=[PatientFactory(home_site=web.clinic.site).pk])).context["form"]
    assert "prescriber" not in form.fields


def test_plan_form_errors_are_explained(client, web):
    patient = PatientFactory(home_site=web.clinic.site)
    login(client, web.prescriber.user)
    url = reverse("web:plan-new", args=[patient.pk])
    page = client.post(
        url,
        _plan_form(web, review_date="2026-03-01", preferred_weekdays=[], earliest_start="15:00", latest_start="09:00"),
    ).content.decode()
    assert "The review date must be after the start." in page
    assert "Pick at least one day." in page
    assert "The latest start must be after the earliest." in page
    assert not TreatmentPlan.objects.filter(patient=patient).exists()
    # A patient with an open plan gets no second one.
    response = client.post(reverse("web:plan-new", args=[web.patient_a.pk]), _plan_form(web))
    assert response.status_code == 409
    assert "already has an open plan" in response.content.decode()


def test_a_flagged_patient_needs_a_prescribers_override_with_a_reason_before_booking(client, web):
    Contraindication.objects.create(code="minor", label="Under 18", kind=Contraindication.Kind.MIN_AGE, threshold=18)
    teen = PatientFactory(
        home_site=web.clinic.site, first_name="Tom", last_name="Young", date_of_birth=dt.date(2010, 5, 1)
    )
    login(client, web.prescriber.user)
    client.post(reverse("web:plan-new", args=[teen.pk]), _plan_form(web))
    plan = TreatmentPlan.objects.get(patient=teen)
    url = reverse("web:plan-screening", args=[plan.pk])
    page = client.get(url).content.decode()
    assert "Under 18: 15 years old (under 18)." in page
    assert "Book induction course" not in page

    response = client.post(url, {"reason": "  ", "version": plan.version})
    assert response.status_code == 400
    assert "Give the reason for the override" in response.content.decode()
    plan.refresh_from_db()
    assert plan.eligibility_override_by is None

    # A nurse sees the screening but cannot override it.
    client.logout()
    login(client, web.nurse.user)
    assert "Only a prescriber can record an override." in client.get(url).content.decode()
    assert client.post(url, {"reason": "Because", "version": plan.version}).status_code == 403

    client.logout()
    login(client, web.prescriber.user)
    response = client.post(
        url, {"reason": "Parental consent; psychiatrist agrees", "version": plan.version}, follow=True
    )
    page = response.content.decode()
    assert "Override recorded" in page and "Book induction course" in page
    plan.refresh_from_db()
    assert plan.eligibility_override_by == web.prescriber
    assert plan.eligibility_override_reason == "Parental consent; psychiatrist agrees"
    assert plan.history.first().history_change_reason == "Screening override: Parental consent; psychiatrist agrees"
    # The chart's screening card shows the reasons and who overrode them.
    chart = client.get(reverse("web:patient", args=[teen.pk])).content.decode()
    assert "Under 18: 15 years old (under 18)." in chart
    assert "Override by " in chart and "Parental consent; psychiatrist agrees" in chart


# A service's refusal answers the chart pages with the error's own status, as the API does and as
# the evaluation page does (tests/web/test_evaluations.py), not a blanket 409: the page's gates
# stand first, so the refusals no form reaches are the service's, patched in here.
REFUSALS = {
    "prescribers only": (PrescribersOnly("Creating a plan is a prescriber's decision."), 403, None),
    "a named field": (InvalidInput("Start date: too far ahead.", details={"field": "start_date"}), 400, "start_date"),
}


@pytest.mark.parametrize(("error", "status", "field"), REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refusal_from_plan_create_answers_the_page_with_its_own_status(
    client, web, monkeypatch, error, status, field
):
    def refuse(**kwargs):
        raise error

    monkeypatch.setattr("web.patients.plan_create", refuse)
    patient = PatientFactory(home_site=web.clinic.site)
    login(client, web.prescriber.user)
    response = client.post(reverse("web:plan-new", args=[patient.pk]), _plan_form(web))
    assert response.status_code == status
    form = response.context["form"]
    assert (form.errors[field] if field else form.non_field_errors()) == [error.message]


def test_a_maintenance_interval_outside_the_protocols_range_is_a_400_not_a_conflict(client, web):
    patient = PatientFactory(home_site=web.clinic.site)
    login(client, web.prescriber.user)
    response = client.post(reverse("web:plan-new", args=[patient.pk]), _plan_form(web, maintenance_interval_days="2"))
    assert response.status_code == 400
    # Next to the field it is about (the service names it in details["field"]).
    [message] = response.context["form"].errors["maintenance_interval_days"]
    assert message.startswith("The maintenance interval must be between 14 and 42 days")
    assert not TreatmentPlan.objects.filter(patient=patient).exists()


def test_a_refusal_of_the_override_answers_the_screening_page_with_its_own_status(client, web, monkeypatch):
    def refuse(**kwargs):
        raise PrescribersOnly("Overriding the screening is a prescriber's decision.")

    monkeypatch.setattr("web.patients.plan_override_eligibility", refuse)
    patient = PatientFactory(home_site=web.clinic.site)
    login(client, web.prescriber.user)
    client.post(reverse("web:plan-new", args=[patient.pk]), _plan_form(web))
    plan = TreatmentPlan.objects.get(patient=patient)
    response = client.post(
        reverse("web:plan-screening", args=[plan.pk]), {"reason": "Because", "version": plan.version}
    )
    assert response.status_code == 403
    assert response.context["problem"].message == "Overriding the screening is a prescriber's decision."


def test_a_refusal_from_patient_register_answers_the_page_with_its_own_status(client, web, monkeypatch):
    def refuse(**kwargs):
        raise InvalidInput("Check the email address.", details={"field": "email"})

    monkeypatch.setattr("web.patients.patient_register", refuse)
    login(client, web.desk.user)
    response = client.post(reverse("web:patient-register"), {**NEW_PATIENT, "home_site": web.clinic.site.pk})
    assert response.status_code == 400
    assert response.context["form"].errors["email"] == ["Check the email address."]


def test_the_screening_page_asks_for_a_new_override_for_a_reason_found_after_the_last(client, web):
    Contraindication.objects.create(code="minor", label="Under 18", kind=Contraindication.Kind.MIN_AGE, threshold=18)
    teen = PatientFactory(home_site=web.clinic.site, date_of_birth=dt.date(2010, 5, 1))
    login(client, web.prescriber.user)
    client.post(reverse("web:plan-new", args=[teen.pk]), _plan_form(web))
    plan = TreatmentPlan.objects.get(patient=teen)
    url = reverse("web:plan-screening", args=[plan.pk])
    client.post(url, {"reason": "Parental consent; psychiatrist agrees", "version": plan.version})
    Patient.objects.filter(pk=teen.pk).update(seizure_history=True)
    Contraindication.objects.create(code="seizures", label="History of seizures", kind="seizure_history")

    page = client.get(url).content.decode()
    assert "Found since this override, and not covered by it:" in page
    assert "<li>History of seizures.</li>" in page
    assert "Record override" in page and "Book induction course" not in page
    chart = client.get(reverse("web:patient", args=[teen.pk])).content.decode()
    assert 'data-testid="not-overridden"' in chart and "History of seizures." in chart

    plan.refresh_from_db()
    client.post(url, {"reason": "Single febrile seizure at age 2; neurology cleared", "version": plan.version})
    page = client.get(url).content.decode()
    assert "Found since this override" not in page and "Book induction course" in page
