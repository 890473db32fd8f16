"""Every editable inline row an admin change page draws carries its fingerprint in the HTML, and
saving the page as a browser posts it (the rendered inputs, not the forms' values) saves an edited
inline row. An inline that names its `fields` (the site's chairs and reminder policy, a patient's
flags and evaluations, a staff member's shifts) drew no fingerprint: the mixin's get_fieldsets sat
on the formset class, where the admin never calls it, so every edit of such a row was refused as
"changed since you opened it"."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client

from clinic.models import Chair, Role, Shift
from tests.admin_pages import as_posted, errors_on
from tests.factories import ChairFactory, PatientFactory, SiteFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client) -> Client:
    user = UserFactory(username="inline-admin", is_staff=True, is_superuser=True)
    StaffFactory(user=user, role=Role.PRESCRIBER, all_sites=True)  # a clinician: the chart's inlines too
    client.force_login(user)
    return client


def _shown_inline_fingerprints(html: str) -> set[str]:
    return set(re.findall(r'name="([a-z_]+-\d+)-shown_version"', html))


def test_every_inline_row_of_the_site_patient_and_staff_pages_draws_its_fingerprint(admin_client):
    site = SiteFactory()
    ChairFactory(site=site, name="Chair A")
    patient = PatientFactory(home_site=site)
    nurse = StaffFactory(role=Role.NURSE, sites=[site])
    Shift.objects.create(
        staff=nurse,
        site=site,
        starts_at=dt.datetime(2031, 3, 3, 13, tzinfo=dt.UTC),
        ends_at=dt.datetime(2031, 3, 3, 21, tzinfo=dt.UTC),
    )
    pages = {
        f"/admin/clinic/site/{site.pk}/change/": {"chairs-0", "reminder_policy-0", "opening_hours-0"},
        f"/admin/patients/patient/{patient.pk}/change/": {"evaluations-0"},
        f"/admin/clinic/staffmember/{nurse.pk}/change/": {"shifts-0"},
    }
    # The staff page shows the shifts from yesterday to four weeks on: the clock two days before.
    with time_machine.travel(dt.datetime(2031, 3, 1, 12, tzinfo=dt.UTC), tick=False):
        admin_client.force_login(get_user_model().objects.get(username="inline-admin"))
        for url, rows in pages.items():
            page = admin_client.get(url)
            assert page.status_code == 200, url
            drawn = _shown_inline_fingerprints(page.content.decode())
            assert rows <= drawn, (url, sorted(drawn))


def test_a_chair_renamed_on_the_site_page_as_a_browser_posts_it_is_saved(admin_client):
    site = SiteFactory()
    chair = ChairFactory(site=site, name="Chair A")
    url = f"/admin/clinic/site/{site.pk}/change/"
    data = as_posted(admin_client.get(url).content.decode())
    prefix = next(key[: -len("-id")] for key, value in data.items() if key.endswith("-id") and value == str(chair.pk))
    data[f"{prefix}-name"] = "Window chair"
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_on(response.content.decode())
    assert Chair.objects.get(pk=chair.pk).name == "Window chair"
