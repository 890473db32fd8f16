"""The Django admin (clinic set-up) shows every site's rows, so only superusers and clinic-wide
staff may use it; a clinic administrator bound to some sites configures them through the API,
which is scoped to their sites."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from clinic.models import Role
from tests.factories import PASSWORD, SiteFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

SET_UP = "/admin/clinic/site/"


def _admin_user(username: str, *, all_sites: bool, superuser: bool = False, sites=()):
    user = UserFactory(username=username, is_staff=True, is_superuser=superuser)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="clinic"))
    StaffFactory(user=user, role=Role.CLINIC_ADMIN, all_sites=all_sites, sites=list(sites))
    return user


def _signed_in(client, user):
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    return client


def test_a_site_bound_clinic_admin_cannot_open_the_set_up_pages_or_see_their_link(client):
    site_a, site_b = SiteFactory(name="North"), SiteFactory(name="South")
    user = _admin_user("north-admin", all_sites=False, sites=[site_a])
    _signed_in(client, user)
    assert client.get(SET_UP, follow=True).status_code == 403
    assert client.get(f"/admin/clinic/site/{site_b.pk}/change/", follow=True).status_code == 403
    home = client.get("/", follow=True)
    assert home.status_code == 200
    assert "Clinic set-up" not in home.content.decode()


@pytest.mark.parametrize(("all_sites", "superuser"), [(True, False), (False, True)])
def test_clinic_wide_staff_and_superusers_use_the_set_up_pages(client, all_sites, superuser):
    SiteFactory(name="North"), SiteFactory(name="South")
    user = _admin_user("wide-admin", all_sites=all_sites, superuser=superuser)
    _signed_in(client, user)
    page = client.get(SET_UP)
    assert page.status_code == 200
    assert "North" in page.content.decode() and "South" in page.content.decode()
    if all_sites:
        assert "Clinic set-up" in client.get("/", follow=True).content.decode()


def test_an_inactive_clinic_wide_staff_member_is_refused(client):
    user = _admin_user("former-admin", all_sites=True)
    user.staff.active = False
    user.staff.save(update_fields=["active"])
    _signed_in(client, user)
    assert client.get(SET_UP, follow=True).status_code == 403
