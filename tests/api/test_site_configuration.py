"""Configuration at a site-bound administrator's reach: a site they open is theirs, and only
clinic-wide staff close every site at once."""

from __future__ import annotations

import pytest

from clinic.models import Closure, Role, Site
from tests.api.conftest import client_of
from tests.factories import SiteFactory, StaffFactory

pytestmark = pytest.mark.django_db
V1 = "/api/v1"
NEW_SITE = {"name": "Uptown", "time_zone": "America/Chicago", "address": "1 Elm St", "phone": "+12025550100"}
CLOSURE = {"starts_at": "2026-07-04T00:00:00Z", "ends_at": "2026-07-05T00:00:00Z", "reason": "Independence Day"}


def test_a_site_bound_administrator_works_at_the_site_they_open():
    admin = StaffFactory(role=Role.CLINIC_ADMIN, sites=[SiteFactory()])
    client = client_of(admin)
    created = client.post(f"{V1}/sites/", NEW_SITE, format="json")
    assert created.status_code == 201, created.content
    assert admin.sites.filter(pk=created.json()["id"]).exists()
    assert client.get(f"{V1}/sites/{created.json()['id']}/").status_code == 200


def test_only_clinic_wide_staff_close_every_site():
    site = SiteFactory()
    bound = client_of(StaffFactory(role=Role.CLINIC_ADMIN, sites=[site]))
    refused = bound.post(f"{V1}/closures/", {**CLOSURE, "site": None}, format="json")
    assert refused.status_code == 400
    assert "site" in refused.json()["error"]["fields"]
    assert bound.post(f"{V1}/closures/", {**CLOSURE, "site": site.pk}, format="json").status_code == 201
    wide = client_of(StaffFactory(role=Role.CLINIC_ADMIN, all_sites=True))
    assert wide.post(f"{V1}/closures/", {**CLOSURE, "site": None}, format="json").status_code == 201
    assert Closure.objects.filter(site__isnull=True).count() == 1
    assert Site.objects.count() == 1


def test_an_administrator_sets_whose_public_holidays_the_site_follows_and_a_wrong_code_is_named():
    """`country` and `subdivision` pick the holidays /holidays/ offers as closures (clinic.public_holidays)."""
    site = SiteFactory()
    client = client_of(StaffFactory(role=Role.CLINIC_ADMIN, sites=[site]))
    url = f"{V1}/sites/{site.pk}/"
    assert client.get(url).json()["country"] == "US"
    changed = client.patch(url, {"country": "CA", "subdivision": "ON"}, format="json")
    assert changed.status_code == 200, changed.content
    site.refresh_from_db()
    assert (site.country, site.subdivision) == ("CA", "ON")

    unknown_country = client.patch(url, {"country": "ZZ"}, format="json")
    assert unknown_country.status_code == 400
    assert "'ZZ' is not a country code" in str(unknown_country.json()["error"]["fields"]["country"])
    wrong_subdivision = client.patch(url, {"subdivision": "CO"}, format="json")  # a US state, not a province
    assert wrong_subdivision.status_code == 400
    assert "CA has no subdivision 'CO'" in str(wrong_subdivision.json()["error"]["fields"]["subdivision"])
    site.refresh_from_db()
    assert (site.country, site.subdivision) == ("CA", "ON"), "a refused change writes nothing"
