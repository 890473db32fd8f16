"""Issue 20 #15: the registration form sets the patient's time zone (used by the portal and the
reminders), blank by default (the zone of the home site picked, whichever it is); a zone that
does not exist is a form error."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.urls import reverse

from clinic.models import Role
from patients.models import Patient
from tests.factories import SiteFactory, StaffFactory, UserFactory
from tests.web.conftest import login
from tests.web.test_patient_pages import NEW_PATIENT


def test_the_registration_form_offers_a_time_zone_defaulting_to_the_home_sites(client, web):
    login(client, web.desk.user)
    form = client.get(reverse("web:patient-register")).context["form"]
    assert "time_zone" in form.fields
    assert not form["time_zone"].value()
    page = client.get(reverse("web:patient-register")).content.decode()
    assert '<option value="" selected>The home site&#x27;s zone</option>' in page
    assert 'value="Europe/Lisbon"' in page


def test_a_desk_of_two_sites_registering_at_the_second_gets_that_sites_zone(client, db):
    """The form pre-set the first site's zone whatever home site was picked: a patient of the
    New York site registered by a desk of Denver and New York got Denver's zone, and reminders
    at the wrong local hour."""
    denver = SiteFactory(name="A Denver", time_zone="America/Denver")
    new_york = SiteFactory(name="B New York", time_zone="America/New_York")
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[denver, new_york], user=UserFactory(username="twosites"))
    with time_machine.travel(dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC), tick=False):
        login(client, desk.user)
        form = client.get(reverse("web:patient-register")).context["form"]
        # What the browser submits: every field as the page pre-set it, the home site changed to New York.
        data = {name: form[name].value() or "" for name in ("time_zone", "preferred_channel")}
        data.update({**NEW_PATIENT, "home_site": new_york.pk})
        assert client.post(reverse("web:patient-register"), data).status_code == 302
    patient = Patient.objects.get(last_name="Ostrander")
    assert patient.time_zone == ""
    assert str(patient.zone) == "America/New_York"


def test_a_patient_registered_with_another_zone_keeps_it(client, web):
    login(client, web.desk.user)
    data = {**NEW_PATIENT, "home_site": web.clinic.site.pk, "time_zone": "America/Los_Angeles"}
    assert client.post(reverse("web:patient-register"), data).status_code == 302
    patient = Patient.objects.get(last_name="Ostrander")
    assert patient.time_zone == "America/Los_Angeles"
    assert str(patient.zone) == "America/Los_Angeles"


def test_a_time_zone_that_does_not_exist_is_refused_on_the_form(client, web):
    login(client, web.desk.user)
    data = {**NEW_PATIENT, "home_site": web.clinic.site.pk, "time_zone": "Mars/Olympus_Mons"}
    response = client.post(reverse("web:patient-register"), data)
    assert response.status_code == 400
    assert "time_zone" in response.context["form"].errors
    assert not Patient.objects.filter(last_name="Ostrander").exists()


def test_leaving_the_zone_out_follows_the_home_site(client, web):
    login(client, web.desk.user)
    assert (
        client.post(reverse("web:patient-register"), {**NEW_PATIENT, "home_site": web.clinic.site.pk}).status_code
        == 302
    )
    assert str(Patient.objects.get(last_name="Ostrander").zone) == "America/New_York"
