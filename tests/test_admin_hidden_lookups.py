"""The Django admin: clinical fields hidden from a role must not be
reachable another way, and the access log must name the patients an admin page showed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from clinic.models import AccessLog, Role
from scheduling.models import TreatmentPlan
from tests.factories import (
    PASSWORD,
    AppointmentFactory,
    ChairFactory,
    PatientFactory,
    PlanFactory,
    SiteFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _admin_user(username: str, role: str):
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=role, all_sites=True)
    return user


def _sign_in(client, user):
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)


@pytest.fixture
def records():
    site = SiteFactory(name="North")
    on_lithium = PatientFactory(home_site=site, last_name="Lithiumtaker", medications="lithium 900 mg", evaluation=None)
    other = PatientFactory(home_site=site, last_name="Plainperson", medications="", evaluation=None)
    plan = PlanFactory(patient=on_lithium, site=site)
    TreatmentPlan.objects.filter(pk=plan.pk).update(
        needs_attention=True, attention_reason="PHQ-9 rose, suicidal ideation"
    )
    chair = ChairFactory(site=site)
    AppointmentFactory(patient=on_lithium, plan=plan, chair=chair, notes="severe dissociation, vomited")
    return {"on_lithium": on_lithium, "other": other, "plan": plan}


def _found(page) -> int | None:
    """How many rows the changelist matched, or None when it refused the filter (400, or the
    admin's "?e=1" redirect for bad parameters)."""
    if page.status_code != 200:
        return None
    return page.context["cl"].result_count


@pytest.mark.parametrize(
    ("url", "field", "text"),
    [
        ("/admin/patients/patient/", "medications__icontains", "lithium"),
        ("/admin/scheduling/appointment/", "notes__icontains", "dissociation"),
        ("/admin/scheduling/treatmentplan/", "attention_reason__icontains", "suicidal"),
    ],
    ids=["patient medications", "session notes", "plan attention reason"],
)
@pytest.mark.parametrize("role", [Role.CLINIC_ADMIN, Role.FRONT_DESK])
def test_a_role_without_a_clinical_duty_cannot_probe_hidden_clinical_text_through_admin_filters(
    client, records, role, url, field, text
):
    """ClinicalAdminMixin leaves the field out of this role's list, filters and search, but the
    changelist still applies `?<field>__icontains=` from the query string (Django's lookup_allowed
    admits any lookup on a local field), so the row count tells who takes lithium, whose session
    notes mention dissociation, whose plan was flagged for suicidal ideation."""
    _sign_in(client, _admin_user("wide", role))
    matched = _found(client.get(url, {field: text}))
    unmatched = _found(client.get(url, {field: "no-such-text-anywhere"}))
    assert matched is None or matched == unmatched, (
        f"{field} is hidden from {role}, yet filtering on it matched {matched} rows against {unmatched}"
    )


def test_the_admin_patient_change_page_names_its_patient_in_the_access_log(client, records):
    """Every view showing a patient names it (patients_shown) so the log can answer 'who saw
    this patient'; the admin's change page of a patient shows the whole record and names none."""
    prescriber = _admin_user("wide-prescriber", Role.PRESCRIBER)
    _sign_in(client, prescriber)
    patient = records["on_lithium"]
    before = AccessLog.objects.count()
    assert client.get(f"/admin/patients/patient/{patient.pk}/change/").status_code == 200
    row = AccessLog.objects.order_by("-pk").first()
    assert AccessLog.objects.count() == before + 1
    assert row.patient_ids == [patient.pk]


def test_the_admin_patient_search_names_the_patients_found_in_the_access_log(client, records):
    _sign_in(client, _admin_user("wide-desk", Role.FRONT_DESK))
    assert client.get("/admin/patients/patient/", {"q": "Lithiumtaker"}).status_code == 200
    row = AccessLog.objects.order_by("-pk").first()
    assert row.patient_ids == [records["on_lithium"].pk]


# --- The controlled-substance register in the admin ---------------------------------------

from clinical.models import ControlledSubstanceEntry  # noqa: E402
from tests.clinical.conftest import ward  # noqa: E402,F401  (the fixture)
from tests.clinical_helpers import record_session_for_completion  # noqa: E402


def test_the_front_desk_cannot_read_the_controlled_substance_register_in_the_admin(client, ward):  # noqa: F811
    """The register (who was given how many mg of ketamine) is for clinicians and clinic
    administrators: the page (PAGE_ROLES["cs_log"]) and the API (clinical/api.py access) refuse
    the front desk. Its admin (clinical/admin.py ControlledSubstanceEntryAdmin) is a plain
    ReadOnlyAdmin without ClinicalAdminMixin or a role check, so a clinic-wide front-desk
    member with admin access lists every patient's doses there."""
    record_session_for_completion(ward.session, ward.nurse.user)
    assert ControlledSubstanceEntry.objects.exists()
    desk = _admin_user("wide-desk", Role.FRONT_DESK)
    _sign_in(client, desk)
    assert client.get("/controlled-substances/").status_code == 403  # the page refuses this role
    response = client.get("/admin/clinical/controlledsubstanceentry/")
    assert response.status_code == 403, "the admin lists the controlled-substance register to the front desk"
