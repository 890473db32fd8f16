"""$book with a new appointment-resource may name the nurse (a Practitioner participant): only an
active nurse working at the session's site can be named. Anyone else (the front desk, a
prescriber, a nurse of another site) is refused with a 400 OperationOutcome that names the
Practitioner and says why, and nothing is booked; it is never a 500."""

from __future__ import annotations

import json

import pytest

from clinic.models import Role
from scheduling.models import Appointment
from tests.factories import SiteFactory, StaffFactory
from tests.interop.fhir_support import FHIR_JSON, outcome_of, post

pytestmark = pytest.mark.django_db

# Tuesday 3 March 2026 10:00 in New York: the clinic is open and its nurse is on shift.
START_AT = "2026-03-03T15:00:00Z"


def _book_naming(world, practitioner_id: int):
    resource = {
        "resourceType": "Appointment",
        "status": "booked",
        "start": START_AT,
        "serviceType": [{"coding": [{"code": str(world.protocol.pk)}]}],
        "participant": [
            {"status": "accepted", "actor": {"reference": f"Patient/{world.patient_a.pk}"}},
            {"status": "accepted", "actor": {"reference": f"Location/site-{world.clinic.site.pk}"}},
            {"status": "accepted", "actor": {"reference": f"Practitioner/{practitioner_id}"}},
        ],
    }
    body = json.dumps(
        {"resourceType": "Parameters", "parameter": [{"name": "appointment-resource", "resource": resource}]}
    )
    return post(world.client("front_desk"), "Appointment/$book", body)


def _assert_refused_naming(response, practitioner_id: int, site_id: int) -> None:
    assert response["Content-Type"].startswith(FHIR_JSON)
    assert response.status_code == 400, (response.status_code, response.content[:300])
    message = outcome_of(response).diagnostics
    assert f"Practitioner/{practitioner_id} is not a nurse working at Location/site-{site_id}" in message, message
    assert not Appointment.objects.exists()


def test_naming_the_front_desk_as_the_practitioner_is_refused_as_not_a_nurse_of_the_site(world):
    front_desk = world.clinic.front_desk
    _assert_refused_naming(_book_naming(world, front_desk.pk), front_desk.pk, world.clinic.site.pk)


def test_naming_a_prescriber_as_the_practitioner_is_refused_as_not_a_nurse_of_the_site(world):
    prescriber = world.clinic.prescriber
    _assert_refused_naming(_book_naming(world, prescriber.pk), prescriber.pk, world.clinic.site.pk)


def test_naming_a_nurse_of_another_site_is_refused_as_not_a_nurse_of_the_site(world):
    elsewhere = StaffFactory(role=Role.NURSE, sites=[SiteFactory()])
    _assert_refused_naming(_book_naming(world, elsewhere.pk), elsewhere.pk, world.clinic.site.pk)


def test_naming_a_nurse_of_the_site_who_is_no_longer_active_is_refused(world):
    nurse = world.clinic.nurses[0]
    nurse.active = False
    nurse.save(update_fields=["active"])
    _assert_refused_naming(_book_naming(world, nurse.pk), nurse.pk, world.clinic.site.pk)


def test_naming_the_sites_own_nurse_books_the_session_with_that_nurse(world):
    nurse = world.clinic.nurses[0]
    response = _book_naming(world, nurse.pk)
    assert response.status_code == 201, response.content[:300]
    assert list(Appointment.objects.values_list("nurse_id", flat=True)) == [nurse.pk]
