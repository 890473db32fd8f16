"""Staff of site A reach no page about a patient of site B by the patient's id (403 or 404, for a
GET and a POST), and no page shows that patient's name; the patient search does not find them by
name, email or phone, and no access-log row names them."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from clinic.models import AccessLog, Role
from tests.factories import PatientFactory, SiteFactory, StaffFactory, UserFactory
from tests.web.registration import ANCHOR

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(ANCHOR, tick=False):
        yield ANCHOR


PAGES = [
    ("web:patient", []),
    ("web:book-session", []),
    ("web:waitlist-add", []),
    ("web:evaluation-new", []),
    ("web:plan-new", []),
    ("measures:staff-entry", ["phq9"]),
]


@pytest.mark.parametrize(("name", "extra"), PAGES)
@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.NURSE, Role.PRESCRIBER])
def test_another_sites_patient_is_404_on_every_page(client, db, frozen, name, extra, role):
    a, b = SiteFactory(name="Alpha"), SiteFactory(name="Beta")
    staff = StaffFactory(role=role, sites=[a], user=UserFactory(username="a_staff"))
    stranger = PatientFactory(home_site=b, last_name="Zzyzx")
    client.force_login(staff.user)
    url = reverse(name, args=[stranger.pk, *extra])
    response = client.get(url)
    assert response.status_code in (403, 404)
    assert "Zzyzx" not in response.content.decode()
    response = client.post(url, {})
    assert response.status_code in (403, 404, 405)
    assert "Zzyzx" not in response.content.decode()


def test_search_does_not_find_another_sites_patient(client, db, frozen):
    a, b = SiteFactory(name="Alpha"), SiteFactory(name="Beta")
    staff = StaffFactory(role=Role.FRONT_DESK, sites=[a], user=UserFactory(username="a_desk"))
    PatientFactory(home_site=b, last_name="Zzyzx", email="zz@example.org", mobile_phone="+12025550177")
    client.force_login(staff.user)
    for q in ("Zzyzx", "zz@example.org", "+12025550177", "2025550177"):
        page = client.get(reverse("web:patient-search"), {"q": q})
        assert page.status_code == 200
        assert page.context["results"] == []
    assert all(row.patient_ids == [] for row in AccessLog.objects.all())
