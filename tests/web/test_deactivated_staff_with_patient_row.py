"""A deactivated member of staff is nobody on the pages as in the API (clinic/permissions.py
actor_for, web/access.py patient_of): a patient row pointing at the same login does not keep the
patient portal open in the former employee's session."""

from __future__ import annotations

from django.test import Client
from rest_framework.test import APIClient

from tests.factories import PatientFactory


def _nurse_who_is_also_a_patient(personas):
    nurse = personas.nurse
    PatientFactory(user=nurse.user, home_site=personas.site, first_name="Nora")
    return nurse


def test_a_deactivated_staff_member_with_a_patient_row_gets_403_on_the_start_page_as_on_the_api(personas):
    nurse = _nurse_who_is_also_a_patient(personas)
    browser = Client()
    browser.force_login(nurse.user)
    api = APIClient()
    api.force_login(nurse.user)
    assert browser.get("/").status_code == 200  # the board, as a nurse

    nurse.active = False
    nurse.save()

    assert api.get("/api/v1/patients/").status_code == 403
    home = browser.get("/")
    assert home.status_code == 403, "the former employee's open session still opens the patient portal"
    assert b"Nora" not in home.content


def test_a_deactivated_staff_member_with_a_patient_row_gets_403_on_the_portal_pages(personas):
    nurse = _nurse_who_is_also_a_patient(personas)
    nurse.active = False
    nurse.save()
    browser = Client()
    browser.force_login(nurse.user)

    assert browser.get("/me/email/confirmation/").status_code == 403
    for page in ("/me/reminders/", "/me/email/change/", "/me/email/confirm/"):
        assert browser.post(page, {"email": "nora@home.example"}).status_code == 403, page
