"""Shifts in the admin: two new rows on a staff member's page that overlap are an error on the
page, not a server error (each row is checked against the stored shifts, and neither is stored
yet); a shift at a site the staff member does not work at is refused, as the API refuses it."""

from __future__ import annotations

import pytest
from django.test import Client

from clinic.models import Role, Shift
from tests.admin_pages import as_posted, errors_on
from tests.factories import SiteFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    user = UserFactory(username="boss", is_staff=True, is_superuser=True)
    StaffFactory(user=user, role=Role.CLINIC_ADMIN, all_sites=True)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _row(index: int, nurse, site, day: str, starts: str, ends: str) -> dict[str, str]:
    return {
        f"shifts-{index}-staff": str(nurse.pk),
        f"shifts-{index}-site": str(site.pk),
        f"shifts-{index}-starts_at_0": day,
        f"shifts-{index}-starts_at_1": starts,
        f"shifts-{index}-ends_at_0": day,
        f"shifts-{index}-ends_at_1": ends,
    }


def test_two_overlapping_new_shifts_on_the_staff_page_are_an_error_and_neither_is_saved(admin_client):
    site = SiteFactory(time_zone="UTC")
    nurse = StaffFactory(role=Role.NURSE, sites=[site])
    url = f"/admin/clinic/staffmember/{nurse.pk}/change/"
    data = as_posted(admin_client.get(url).content.decode())
    data.update({"shifts-TOTAL_FORMS": "2"})
    data.update(_row(0, nurse, site, "2031-03-04", "07:00:00", "15:00:00"))
    data.update(_row(1, nurse, site, "2031-03-04", "12:00:00", "19:00:00"))
    answer = admin_client.post(url, data)
    assert answer.status_code == 200
    assert "Two of these shifts overlap" in " ".join(errors_on(answer.content.decode()))
    assert not Shift.objects.filter(staff=nurse).exists()
    data.update(_row(1, nurse, site, "2031-03-04", "15:00:00", "19:00:00"))  # back to back: fine
    assert admin_client.post(url, data).status_code == 302
    assert Shift.objects.filter(staff=nurse).count() == 2


def test_the_same_shift_typed_twice_at_two_sites_is_an_overlap_not_a_server_error(admin_client):
    """Rows of equal times are ordered by time alone (two sites cannot be ordered)."""
    site, other = SiteFactory(time_zone="America/Los_Angeles"), SiteFactory(time_zone="America/Los_Angeles")
    nurse = StaffFactory(role=Role.NURSE, sites=[site, other])
    url = f"/admin/clinic/staffmember/{nurse.pk}/change/"
    data = as_posted(admin_client.get(url).content.decode())
    data.update({"shifts-TOTAL_FORMS": "2"})
    data.update(_row(0, nurse, site, "2031-03-04", "07:00:00", "15:00:00"))
    data.update(_row(1, nurse, other, "2031-03-04", "07:00:00", "15:00:00"))
    answer = admin_client.post(url, data)
    assert answer.status_code == 200, answer.status_code
    assert "Two of these shifts overlap" in " ".join(errors_on(answer.content.decode()))
    assert not Shift.objects.filter(staff=nurse).exists()


def test_a_shift_at_a_site_the_staff_member_does_not_work_at_is_refused(admin_client):
    site, elsewhere = SiteFactory(time_zone="UTC"), SiteFactory(time_zone="UTC")
    nurse = StaffFactory(role=Role.NURSE, sites=[site])
    shift = {"staff": nurse.pk, "starts_at_0": "2031-03-04", "starts_at_1": "12:00:00"}
    shift.update({"ends_at_0": "2031-03-04", "ends_at_1": "19:00:00"})
    answer = admin_client.post("/admin/clinic/shift/add/", {**shift, "site": elsewhere.pk})
    assert answer.status_code == 200
    assert any("does not work at that site" in error for error in errors_on(answer.content.decode()))
    assert not Shift.objects.filter(staff=nurse).exists()
    assert admin_client.post("/admin/clinic/shift/add/", {**shift, "site": site.pk}).status_code == 302
    assert Shift.objects.filter(staff=nurse, site=site).exists()
