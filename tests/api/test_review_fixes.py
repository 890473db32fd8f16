"""The API side of the review fixes in 676e2eb: an all-site closure is changed or removed only by
clinic-wide staff, a plan is created only at a site its author works at, and a 500 from a view
outside ClinicAPIMixin commits none of its writes."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import AccessLog, Closure, Role
from clinic.permissions import OutsideYourSites
from patients.models import Contraindication
from scheduling import services
from scheduling.models import TreatmentPlan
from tests.api.conftest import client_of, second_clinic
from tests.factories import AppointmentFactory, PatientFactory, SiteFactory, StaffFactory
from tests.review_urls import HALF_WRITTEN_CODE
from tests.scheduling.conftest import NOW, START, make_clinic

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


# --- 1. All-site closures -------------------------------------------------------------------


@pytest.fixture
def every_site_closure():
    return Closure.objects.create(
        site=None,
        starts_at=dt.datetime(2026, 7, 4, 4, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 7, 5, 4, tzinfo=dt.UTC),
        reason="Independence Day",
    )


def test_a_site_bound_admin_can_neither_narrow_nor_remove_a_closure_of_every_site(every_site_closure):
    site = SiteFactory()
    bound = client_of(StaffFactory(role=Role.CLINIC_ADMIN, sites=[site]))
    url = f"{V1}/closures/{every_site_closure.pk}/"
    # Narrowing it to their own site would reopen every other site.
    narrowed = bound.patch(url, {"site": site.pk}, format="json")
    assert narrowed.status_code == 403, narrowed.content
    assert bound.patch(url, {"reason": "Closed for the 4th"}, format="json").status_code == 403
    removed = bound.delete(url)
    assert removed.status_code == 403, removed.content
    every_site_closure.refresh_from_db()
    assert (every_site_closure.site_id, every_site_closure.reason) == (None, "Independence Day")


def test_clinic_wide_admin_changes_and_removes_a_closure_of_every_site(every_site_closure):
    wide = client_of(StaffFactory(role=Role.CLINIC_ADMIN, all_sites=True))
    url = f"{V1}/closures/{every_site_closure.pk}/"
    changed = wide.patch(url, {"reason": "Closed for the 4th"}, format="json")
    assert changed.status_code == 200, changed.content
    every_site_closure.refresh_from_db()
    assert (every_site_closure.site_id, every_site_closure.reason) == (None, "Closed for the 4th")
    assert wide.delete(url).status_code == 204
    assert not Closure.objects.filter(pk=every_site_closure.pk).exists()


# --- 2. Plans only at the author's sites -----------------------------------------------------


@pytest.fixture
def clinic(db):
    return make_clinic(days=20)


@pytest.fixture
def other(clinic):
    return second_clinic(protocol=clinic.protocol, days=20)


def test_a_plan_at_a_site_the_prescriber_does_not_work_at_is_refused(clinic, other):
    patient = PatientFactory(home_site=clinic.site)
    with pytest.raises(OutsideYourSites) as refused:
        services.plan_create(
            patient=patient,
            protocol=clinic.protocol,
            prescriber=clinic.prescriber,
            start_date=START,
            actor=clinic.prescriber.user,
            site=other.site,
        )
    assert refused.value.code == "outside_your_sites"
    assert not TreatmentPlan.objects.filter(patient=patient).exists()


def test_a_plan_posted_for_a_patient_seen_here_but_living_at_another_site_is_not_created_there(clinic, other):
    # Home site B, but a session at A makes the patient visible to A's prescriber (the central site rule).
    patient = PatientFactory(home_site=other.site)
    AppointmentFactory(patient=patient, chair=clinic.chairs[0], starts_at=NOW - dt.timedelta(days=7))
    response = client_of(clinic.prescriber).post(
        f"{V1}/plans/",
        {"patient": patient.pk, "protocol": clinic.protocol.pk, "start_date": START.isoformat()},
        format="json",
    )
    assert response.status_code in (400, 403), response.content
    assert response.json()["error"]["code"] == "outside_your_sites"
    assert not TreatmentPlan.objects.filter(patient=patient).exists()


# --- 8. A 500 outside ClinicAPIMixin commits nothing ------------------------------------------


@pytest.mark.urls("tests.review_urls")
def test_an_api_write_that_ends_in_an_unhandled_error_commits_nothing(client, personas):
    client.raise_request_exception = False
    client.force_login(personas.clinic_admin.user)
    response = client.post(f"{V1}/test-write-then-fail/", {}, content_type="application/json")
    assert response.status_code == 500
    assert not Contraindication.objects.filter(code=HALF_WRITTEN_CODE).exists()
    # The request itself is still on record, written after the rollback.
    assert AccessLog.objects.get(path=f"{V1}/test-write-then-fail/").status_code == 500
