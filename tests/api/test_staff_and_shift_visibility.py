"""What staff of one site learn about the others through the staff and shift endpoints: who works
at their site (its own staff and the clinic-wide), never the ids of the other sites a colleague
works at, nor the id and hours of a shift there."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Role, Shift
from tests.api.conftest import client_of
from tests.factories import SiteFactory, StaffFactory

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def test_the_staff_site_filter_lists_clinic_wide_staff_who_work_there_too():
    site, other = SiteFactory(), SiteFactory()
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[site])
    listed_nurse = StaffFactory(role=Role.NURSE, sites=[site])
    wide_nurse = StaffFactory(role=Role.NURSE, all_sites=True)
    wide_and_listed = StaffFactory(role=Role.NURSE, all_sites=True, sites=[site, other])
    StaffFactory(role=Role.NURSE, sites=[other])

    response = client_of(desk).get(f"{V1}/staff/?site={site.pk}&role=nurse")

    assert response.status_code == 200, response.content
    ids = [row["id"] for row in response.json()["results"]]
    assert sorted(ids) == sorted([listed_nurse.pk, wide_nurse.pk, wide_and_listed.pk]), (
        "each nurse who works at the site, once"
    )


def test_staff_of_one_site_are_not_shown_the_ids_of_other_sites_a_colleague_works_at():
    site_a, site_b = SiteFactory(), SiteFactory()
    desk_a = StaffFactory(role=Role.FRONT_DESK, sites=[site_a])
    shared_nurse = StaffFactory(role=Role.NURSE, sites=[site_a, site_b])
    wide = StaffFactory(role=Role.CLINIC_ADMIN, all_sites=True)

    one = client_of(desk_a).get(f"{V1}/staff/{shared_nurse.pk}/")
    listed = client_of(desk_a).get(f"{V1}/staff/?limit=200")

    assert one.status_code == 200, one.content
    assert one.json()["sites"] == [site_a.pk], "site A's desk was told the id of site B"
    assert {pk for row in listed.json()["results"] for pk in row["sites"]} == {site_a.pk}
    assert sorted(client_of(wide).get(f"{V1}/staff/{shared_nurse.pk}/").json()["sites"]) == sorted(
        [site_a.pk, site_b.pk]
    )


def test_a_shift_clash_at_another_site_does_not_tell_a_site_administrator_its_id_and_hours():
    site_a, site_b = SiteFactory(), SiteFactory()
    admin_a = client_of(StaffFactory(role=Role.CLINIC_ADMIN, sites=[site_a]))
    nurse = StaffFactory(role=Role.NURSE, sites=[site_a, site_b])
    elsewhere = Shift.objects.create(
        staff=nurse,
        site=site_b,
        starts_at=dt.datetime(2026, 4, 1, 14, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 4, 1, 20, tzinfo=dt.UTC),
    )
    assert admin_a.get(f"{V1}/shifts/{elsewhere.pk}/").status_code == 404  # not theirs to see
    body = {
        "staff": nurse.pk,
        "site": site_a.pk,
        "starts_at": "2026-04-01T15:00:00Z",
        "ends_at": "2026-04-01T16:00:00Z",
    }

    refused = admin_a.post(f"{V1}/shifts/", body, format="json")
    told_wide = client_of(StaffFactory(role=Role.CLINIC_ADMIN, all_sites=True)).post(
        f"{V1}/shifts/", body, format="json"
    )

    assert refused.status_code == 409, refused.content
    message = refused.json()["error"]["message"]
    assert "another site" in message, message
    assert f"shift {elsewhere.pk}" not in message and "14:00" not in message and "20:00" not in message, message
    assert told_wide.status_code == 409, told_wide.content
    assert f"shift {elsewhere.pk}" in told_wide.json()["error"]["message"]  # theirs to see, so named
    assert Shift.objects.filter(staff=nurse).count() == 1
