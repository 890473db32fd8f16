"""A chair out of use through the API: a closure naming one of the site's chairs, added by the
site's clinic administrators as closures are; another site's administrator is refused, a chair of
another site or a chair without its site is a 400 naming the field."""

from __future__ import annotations

import pytest

from clinic.models import Closure, Role
from tests.api.conftest import client_of
from tests.factories import ChairFactory, SiteFactory, StaffFactory

pytestmark = pytest.mark.django_db
V1 = "/api/v1"
PERIOD = {"starts_at": "2026-07-06T12:00:00Z", "ends_at": "2026-07-08T12:00:00Z", "reason": "IV pump broken"}


def test_the_sites_administrator_takes_one_of_its_chairs_out_of_use():
    chair = ChairFactory()
    client = client_of(StaffFactory(role=Role.CLINIC_ADMIN, sites=[chair.site]))
    created = client.post(f"{V1}/closures/", {**PERIOD, "site": chair.site.pk, "chair": chair.pk}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["chair"] == chair.pk
    closure = Closure.objects.get()
    assert (closure.site_id, closure.chair_id) == (chair.site_id, chair.pk)
    listed = client.get(f"{V1}/closures/", {"chair": chair.pk}).json()
    assert [row["id"] for row in listed["results"]] == [closure.pk]
    # A closure of the whole site still has no chair.
    whole = client.post(f"{V1}/closures/", {**PERIOD, "site": chair.site.pk}, format="json")
    assert whole.status_code == 201 and whole.json()["chair"] is None


def test_a_chair_of_another_site_or_without_its_site_is_refused_naming_the_field():
    chair = ChairFactory()
    other = SiteFactory()
    wide = client_of(StaffFactory(role=Role.CLINIC_ADMIN, all_sites=True))
    elsewhere = wide.post(f"{V1}/closures/", {**PERIOD, "site": other.pk, "chair": chair.pk}, format="json")
    assert elsewhere.status_code == 400
    assert "chair" in elsewhere.json()["error"]["fields"]
    no_site = wide.post(f"{V1}/closures/", {**PERIOD, "site": None, "chair": chair.pk}, format="json")
    assert no_site.status_code == 400
    assert "site" in no_site.json()["error"]["fields"]
    assert not Closure.objects.exists()


def test_an_administrator_of_another_site_or_the_front_desk_cannot_take_the_chair_out_of_use():
    chair = ChairFactory()
    body = {**PERIOD, "site": chair.site.pk, "chair": chair.pk}
    other_admin = client_of(StaffFactory(role=Role.CLINIC_ADMIN, sites=[SiteFactory()]))
    assert other_admin.post(f"{V1}/closures/", body, format="json").status_code in (400, 403, 404)
    desk = client_of(StaffFactory(role=Role.FRONT_DESK, sites=[chair.site]))
    assert desk.post(f"{V1}/closures/", body, format="json").status_code == 403
    assert not Closure.objects.exists()
    # Nor change one: another site's period is not theirs to see.
    closure = Closure.objects.create(
        site=chair.site, chair=chair, starts_at="2026-07-06T12:00Z", ends_at="2026-07-07T12:00Z"
    )
    assert other_admin.patch(f"{V1}/closures/{closure.pk}/", {"reason": "x"}, format="json").status_code == 404
    assert other_admin.delete(f"{V1}/closures/{closure.pk}/").status_code == 404
    assert Closure.objects.filter(pk=closure.pk).exists()


def test_a_site_administrator_cannot_move_the_period_to_a_chair_of_another_site():
    chair = ChairFactory()
    foreign = ChairFactory()
    client = client_of(StaffFactory(role=Role.CLINIC_ADMIN, sites=[chair.site]))
    closure = Closure.objects.create(
        site=chair.site, chair=chair, starts_at="2026-07-06T12:00Z", ends_at="2026-07-07T12:00Z", reason="Pump"
    )
    moved = client.patch(f"{V1}/closures/{closure.pk}/", {"chair": foreign.pk}, format="json")
    assert moved.status_code == 400 and "chair" in moved.json()["error"]["fields"]
    closure.refresh_from_db()
    assert closure.chair_id == chair.pk
