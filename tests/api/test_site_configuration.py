"""Configuration at a site-bound administrator's reach: a site they open is theirs, and only
clinic-wide staff close every site at once."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from clinic.models import Closure, Role, Site
from tests.factories import SiteFactory, StaffFactory

pytestmark = pytest.mark.django_db
V1 = "/api/v1"
NEW_SITE = {"name": "Uptown", "time_zone": "America/Chicago", "address": "1 Elm St", "phone": "+12025550100"}
CLOSURE = {"starts_at": "2026-07-04T00:00:00Z", "ends_at": "2026-07-05T00:00:00Z", "reason": "Independence Day"}


def _client(member) -> APIClient:
    client = APIClient()
    client.force_authenticate(member.user)
    return client


def test_a_site_bound_administrator_works_at_the_site_they_open():
    admin = StaffFactory(role=Role.CLINIC_ADMIN, sites=[SiteFactory()])
    client = _client(admin)
    created = client.post(f"{V1}/sites/", NEW_SITE, format="json")
    assert created.status_code == 201, created.content
    assert admin.sites.filter(pk=created.json()["id"]).exists()
    assert client.get(f"{V1}/sites/{created.json()['id']}/").status_code == 200


def test_only_clinic_wide_staff_close_every_site():
    site = SiteFactory()
    bound = _client(StaffFactory(role=Role.CLINIC_ADMIN, sites=[site]))
    refused = bound.post(f"{V1}/closures/", {**CLOSURE, "site": None}, format="json")
    assert refused.status_code == 400
    assert "site" in refused.json()["error"]["fields"]
    assert bound.post(f"{V1}/closures/", {**CLOSURE, "site": site.pk}, format="json").status_code == 201
    wide = _client(StaffFactory(role=Role.CLINIC_ADMIN, all_sites=True))
    assert wide.post(f"{V1}/closures/", {**CLOSURE, "site": None}, format="json").status_code == 201
    assert Closure.objects.filter(site__isnull=True).count() == 1
    assert Site.objects.count() == 1
