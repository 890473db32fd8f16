"""One person, one chart in the admin too: the patient admin saves the row itself, so its form asks
registration's rule (patients.services.patient_duplicate_check). A new patient, or a name or date of
birth edited onto another chart's, is refused naming that chart; ticking "A different person" saves
it, and the history says which charts it was confirmed different from."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from patients.models import Patient
from tests.factories import PatientFactory, SiteFactory
from tests.test_admin_concurrent_edits import _change_form_data, _open_change_page, _sign_in

pytestmark = pytest.mark.django_db

ANCHOR = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)
BORN = dt.date(1985, 6, 15)


@pytest.fixture
def ann(db):
    with time_machine.travel(ANCHOR, tick=False):
        yield PatientFactory(home_site=SiteFactory(), first_name="Ann", last_name="Alder", date_of_birth=BORN)


def test_an_admin_edit_onto_another_charts_name_and_birth_date_is_refused_then_confirmed(ann):
    anne = PatientFactory(home_site=ann.home_site, first_name="Anne", last_name="Alder", date_of_birth=BORN)
    client = Client()
    url, _, data = _open_change_page(client, anne)
    refused = client.post(url, {**data, "first_name": " ann"})
    assert refused.status_code == 200, "the page is shown again with the refusal"
    assert "Ann Alder, born 15 Jun 1985, is already registered." in refused.content.decode()
    assert Patient.objects.get(pk=anne.pk).first_name == "Anne"

    saved = client.post(url, {**data, "first_name": "Ann", "different_person": "on"})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    anne.refresh_from_db()
    assert anne.first_name == "Ann"
    reason = anne.history.latest().history_change_reason
    assert reason.startswith("Changed") and f"#{ann.pk}" in reason, reason


def test_an_admin_edit_of_other_fields_of_a_chart_sharing_a_name_is_not_refused(ann):
    """Two charts registered before the rule: the rest of either chart can still be edited."""
    twin = Patient.objects.create(first_name="Ann", last_name="Alder", date_of_birth=BORN, home_site=ann.home_site)
    client = Client()
    url, _, data = _open_change_page(client, twin)
    saved = client.post(url, {**data, "escort_name": "Lee"})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert Patient.objects.get(pk=twin.pk).escort_name == "Lee"


def test_a_patient_added_in_the_admin_with_another_charts_name_and_birth_date_is_refused(ann):
    client = Client()
    _sign_in(client)
    url = "/admin/patients/patient/add/"
    data = {
        **_change_form_data(client.get(url)),
        "first_name": "ANN",
        "last_name": "Alder ",
        "date_of_birth": "1985-06-15",
        "home_site": ann.home_site_id,
    }
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "is already registered" in refused.content.decode()
    assert Patient.objects.filter(last_name="Alder").count() == 1
    saved = client.post(url, {**data, "different_person": "on"})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert Patient.objects.filter(last_name="Alder").count() == 2
    added = Patient.objects.exclude(pk=ann.pk).get(last_name="Alder")
    assert f"#{ann.pk}" in added.history.get().history_change_reason
