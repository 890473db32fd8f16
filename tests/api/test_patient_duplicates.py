"""One person, one chart through the API and the services it shares with FHIR: a registration
(POST /api/v1/patients/) and an edit of a name or date of birth (PATCH, patients.services.
patient_update) that would give a chart another patient's name and date of birth are refused with a
409 naming that patient, only to staff of a site of theirs, and the access log names the patient
the refusal shows. `different_person: true` registers a genuinely different person of the same
name and date of birth, and the history says so; on an edit it lets a name or birth date through
that another chart has, and is refused on an edit that changes neither."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from clinic.errors import InvalidState
from clinic.models import AccessLog, Role
from patients.models import Patient
from patients.services import patient_update
from tests.api.conftest import token_client_of
from tests.factories import PatientFactory, SiteFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

ANCHOR = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)  # a Tuesday, 10:00 in New York
V1 = "/api/v1"


@pytest.fixture
def two(db):
    # The clock stays set for the whole test: registration judges birth dates against today.
    with time_machine.travel(ANCHOR, tick=False):
        a = SiteFactory(name="Alpha")
        b = SiteFactory(name="Beta")
        desk_a = StaffFactory(role=Role.FRONT_DESK, sites=[a], user=UserFactory(username="desk_a"))
        ann = PatientFactory(home_site=a, first_name="Ann", last_name="Alder", date_of_birth=dt.date(1985, 6, 15))
        ben = PatientFactory(home_site=b, first_name="Ben", last_name="Birch", date_of_birth=dt.date(1990, 2, 1))
        yield {"a": a, "b": b, "desk_a": desk_a, "ann": ann, "ben": ben}


def _last_row(method: str) -> AccessLog:
    row = AccessLog.objects.filter(method=method, path__startswith=f"{V1}/patients/").order_by("-pk").first()
    assert row is not None
    return row


def test_the_registration_refusal_names_the_existing_patient_in_the_access_log(two):
    body = {"first_name": "Ann", "last_name": "Alder", "date_of_birth": "1985-06-15", "home_site": two["a"].pk}
    response = token_client_of(two["desk_a"]).post(f"{V1}/patients/", body, format="json")
    assert response.status_code == 409, response.content
    assert "Ann Alder, born 15 Jun 1985" in response.content.decode()
    assert _last_row("POST").patient_ids == [two["ann"].pk]


def test_an_edit_cannot_give_a_chart_another_patients_name_and_birth_date(two):
    anne = PatientFactory(home_site=two["a"], first_name="Anne", last_name="Alder", date_of_birth=dt.date(1985, 6, 15))
    response = token_client_of(two["desk_a"]).patch(f"{V1}/patients/{anne.pk}/", {"first_name": "ann"}, format="json")
    assert response.status_code == 409, response.content
    assert "Ann Alder, born 15 Jun 1985, is already registered." in response.content.decode()
    assert response.json()["error"]["details"]["patient_id"] == two["ann"].pk
    anne.refresh_from_db()
    assert anne.first_name == "Anne"
    assert set(_last_row("PATCH").patient_ids) == {anne.pk, two["ann"].pk}
    # Two charts registered before the rule can still have a capital corrected.
    twin = Patient.objects.create(
        first_name="ann", last_name="Alder", date_of_birth=dt.date(1985, 6, 15), home_site=two["a"]
    )
    response = token_client_of(two["desk_a"]).patch(f"{V1}/patients/{twin.pk}/", {"first_name": "Ann"}, format="json")
    assert response.status_code == 200, response.content


def test_an_edit_of_the_birth_date_onto_another_sites_patient_is_refused_without_naming_them(two):
    bea = PatientFactory(home_site=two["a"], first_name="Ben", last_name="Birch", date_of_birth=dt.date(1991, 2, 1))
    response = token_client_of(two["desk_a"]).patch(
        f"{V1}/patients/{bea.pk}/", {"date_of_birth": "1990-02-01"}, format="json"
    )
    assert response.status_code == 409, response.content
    assert "another site" in response.content.decode()
    assert "patient_id" not in response.json()["error"]["details"]
    bea.refresh_from_db()
    assert bea.date_of_birth == dt.date(1991, 2, 1)


def test_the_demographics_service_refuses_an_edit_onto_another_patient(two):
    """patients.services.patient_update, which FHIR's Patient update calls, holds the same rule."""
    anne = PatientFactory(home_site=two["a"], first_name="Anne", last_name="Alder", date_of_birth=dt.date(1985, 6, 15))
    with pytest.raises(InvalidState):
        patient_update(patient=anne, actor=two["desk_a"].user, fields={"first_name": "Ann"})
    assert Patient.objects.get(pk=anne.pk).first_name == "Anne"


def test_a_different_person_of_the_same_name_and_birth_date_is_registered_when_confirmed(two):
    body = {
        "first_name": "Ann",
        "last_name": "Alder",
        "date_of_birth": "1985-06-15",
        "home_site": two["a"].pk,
        "different_person": True,
    }
    response = token_client_of(two["desk_a"]).post(f"{V1}/patients/", body, format="json")
    assert response.status_code == 201, response.content
    assert "different_person" not in response.json()
    second = Patient.objects.get(pk=response.json()["id"])
    reason = second.history.get().history_change_reason
    assert "different person" in reason and f"#{two['ann'].pk}" in reason


def test_a_different_person_cannot_be_confirmed_over_another_sites_patient(two):
    """The desk cannot see the other chart, so cannot tell that it is someone else."""
    body = {
        "first_name": "Ben",
        "last_name": "Birch",
        "date_of_birth": "1990-02-01",
        "home_site": two["a"].pk,
        "different_person": True,
    }
    response = token_client_of(two["desk_a"]).post(f"{V1}/patients/", body, format="json")
    assert response.status_code == 409, response.content
    assert "another site" in response.content.decode() and "Birch" not in response.content.decode()
    assert _last_row("POST").patient_ids == []
    assert Patient.objects.filter(last_name="Birch").count() == 1


def test_different_person_is_refused_on_an_edit_of_neither_name_nor_birth_date(two):
    response = token_client_of(two["desk_a"]).patch(
        f"{V1}/patients/{two['ann'].pk}/", {"escort_name": "Lee", "different_person": True}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "changes neither" in response.json()["error"]["fields"]["different_person"][0]
    # A name written in another case or spacing is no change of who the chart is.
    response = token_client_of(two["desk_a"]).patch(
        f"{V1}/patients/{two['ann'].pk}/", {"first_name": "ANN", "different_person": True}, format="json"
    )
    assert response.status_code == 400, response.content


def test_an_edit_onto_a_different_person_of_the_same_name_and_birth_date_goes_through_once_confirmed(two):
    """A chart corrected to its true name, which another patient shares with the same birth date:
    refused first (409 naming that patient), then saved once the desk confirms, with history."""
    anne = PatientFactory(home_site=two["a"], first_name="Anne", last_name="Alder", date_of_birth=dt.date(1985, 6, 15))
    client = token_client_of(two["desk_a"])
    refused = client.patch(f"{V1}/patients/{anne.pk}/", {"first_name": "Ann"}, format="json")
    assert refused.status_code == 409, refused.content
    response = client.patch(f"{V1}/patients/{anne.pk}/", {"first_name": "Ann", "different_person": True}, format="json")
    assert response.status_code == 200, response.content
    assert "different_person" not in response.json()
    anne.refresh_from_db()
    assert anne.first_name == "Ann"
    reason = anne.history.latest().history_change_reason
    assert reason.startswith("Changed through the API") and f"#{two['ann'].pk}" in reason, reason


def test_an_edit_cannot_be_confirmed_different_from_another_sites_patient(two):
    bea = PatientFactory(home_site=two["a"], first_name="Ben", last_name="Birch", date_of_birth=dt.date(1991, 2, 1))
    response = token_client_of(two["desk_a"]).patch(
        f"{V1}/patients/{bea.pk}/", {"date_of_birth": "1990-02-01", "different_person": True}, format="json"
    )
    assert response.status_code == 409, response.content
    assert "Birch" not in response.content.decode()
    bea.refresh_from_db()
    assert bea.date_of_birth == dt.date(1991, 2, 1)
