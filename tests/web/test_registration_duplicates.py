"""One person, one chart on the registration page (web/patients.py register, through
patients.services.patient_duplicate_check): the same name and date of birth is refused with a 409
naming the registered patient, whatever the spacing inside the name or its accents, and the
patient it names is in the access log. Two different people can share a name and a birth date:
the refusal offers "This is a different person", which registers them and says so in the history.
A successful registration names the new patient in the access log too."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import AccessLog
from patients.models import Patient
from tests.factories import PatientFactory
from tests.web.registration import ANCHOR, registration_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(ANCHOR, tick=False):
        yield ANCHOR


def _register_row() -> AccessLog:
    row = AccessLog.objects.filter(path=reverse("web:patient-register"), method="POST").order_by("-pk").first()
    assert row is not None
    return row


def test_the_duplicate_refusal_names_the_existing_patient_in_the_access_log(client, personas, frozen):
    existing = PatientFactory(
        first_name="Dana", last_name="Ostrander", date_of_birth=dt.date(1979, 4, 2), home_site=personas.site
    )
    client.force_login(personas.front_desk.user)
    response = client.post(reverse("web:patient-register"), registration_form(personas.site))
    assert response.status_code == 409
    assert "Dana Ostrander, born 2 Apr 1979, is already registered." in response.content.decode()
    assert _register_row().patient_ids == [existing.pk]


def test_a_registration_names_the_new_patient_in_the_access_log(client, personas, frozen):
    client.force_login(personas.front_desk.user)
    response = client.post(reverse("web:patient-register"), registration_form(personas.site))
    assert response.status_code == 302
    assert _register_row().patient_ids == [Patient.objects.get(last_name="Ostrander").pk]


def test_a_double_space_inside_a_name_is_the_same_person(client, personas, frozen):
    PatientFactory(
        first_name="Mary Ann", last_name="Ostrander", date_of_birth=dt.date(1979, 4, 2), home_site=personas.site
    )
    client.force_login(personas.front_desk.user)
    response = client.post(reverse("web:patient-register"), registration_form(personas.site, first_name="Mary  Ann"))
    assert response.status_code == 409
    assert Patient.objects.filter(last_name="Ostrander").count() == 1


def test_a_name_typed_without_its_accents_is_the_same_person(client, personas, frozen):
    PatientFactory(first_name="José", last_name="Núñez", date_of_birth=dt.date(1979, 4, 2), home_site=personas.site)
    client.force_login(personas.front_desk.user)
    response = client.post(
        reverse("web:patient-register"), registration_form(personas.site, first_name="Jose", last_name="Nunez")
    )
    assert response.status_code == 409
    assert "José Núñez, born 2 Apr 1979, is already registered." in response.content.decode()
    assert Patient.objects.filter(date_of_birth=dt.date(1979, 4, 2)).count() == 1


def test_a_different_person_with_the_same_name_and_birth_date_is_registered_once_confirmed(client, personas, frozen):
    existing = PatientFactory(
        first_name="John",
        last_name="Smith",
        date_of_birth=dt.date(1980, 1, 1),
        email="john.smith@example.org",
        home_site=personas.site,
    )
    client.force_login(personas.front_desk.user)
    # Offered only with a refusal naming a patient of the same name and date of birth.
    assert 'name="different_person"' not in client.get(reverse("web:patient-register")).content.decode()
    data = registration_form(
        personas.site, first_name="John", last_name="Smith", date_of_birth="1980-01-01", email="js@example.net"
    )
    refused = client.post(reverse("web:patient-register"), data)
    assert refused.status_code == 409
    assert 'name="different_person"' in refused.content.decode()
    registered = client.post(reverse("web:patient-register"), {**data, "different_person": "on"})
    assert registered.status_code == 302
    second = Patient.objects.get(email="js@example.net")
    assert second.pk != existing.pk
    reason = second.history.get().history_change_reason
    assert "different person" in reason and f"#{existing.pk}" in reason
