"""Issue 20 #15: the registration form sets the patient's time zone (used by the portal and the
reminders), defaulting to the site's zone; a zone that does not exist is a form error."""

from __future__ import annotations

from django.urls import reverse

from patients.models import Patient
from tests.web.conftest import login
from tests.web.test_patient_pages import NEW_PATIENT


def test_the_registration_form_offers_a_time_zone_defaulting_to_the_sites(client, web):
    login(client, web.desk.user)
    form = client.get(reverse("web:patient-register")).context["form"]
    assert "time_zone" in form.fields
    assert form["time_zone"].value() == web.clinic.site.time_zone == "America/New_York"
    page = client.get(reverse("web:patient-register")).content.decode()
    assert '<option value="America/New_York" selected>' in page
    assert 'value="Europe/Lisbon"' in page


def test_a_patient_registered_with_another_zone_keeps_it(client, web):
    login(client, web.desk.user)
    data = {**NEW_PATIENT, "home_site": web.clinic.site.pk, "time_zone": "America/Los_Angeles"}
    assert client.post(reverse("web:patient-register"), data).status_code == 302
    patient = Patient.objects.get(last_name="Novak")
    assert patient.time_zone == "America/Los_Angeles"
    assert str(patient.zone) == "America/Los_Angeles"


def test_a_time_zone_that_does_not_exist_is_refused_on_the_form(client, web):
    login(client, web.desk.user)
    data = {**NEW_PATIENT, "home_site": web.clinic.site.pk, "time_zone": "Mars/Olympus_Mons"}
    response = client.post(reverse("web:patient-register"), data)
    assert response.status_code == 400
    assert "time_zone" in response.context["form"].errors
    assert not Patient.objects.filter(last_name="Novak").exists()


def test_leaving_the_zone_out_follows_the_home_site(client, web):
    login(client, web.desk.user)
    assert (
        client.post(reverse("web:patient-register"), {**NEW_PATIENT, "home_site": web.clinic.site.pk}).status_code
        == 302
    )
    assert str(Patient.objects.get(last_name="Novak").zone) == "America/New_York"
