"""A superuser can do everything any role can (the admin shows every site's rows), so whenever the
clinic requires a second factor for some role (REQUIRE_2FA_ROLES) it requires one of superusers
too, whether or not they also have a staff row; with no role required, nobody is asked."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model

from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD, StaffFactory, UserFactory

MONDAY = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    empty_own_cache_keys()
    with time_machine.travel(MONDAY, tick=False):
        yield
    empty_own_cache_keys()


def superuser():
    return get_user_model().objects.create_superuser(username="root", password=PASSWORD, email="root@example.org")


@pytest.mark.django_db
@pytest.mark.parametrize("with_staff_row", [False, True])
def test_a_superuser_must_enrol_before_the_admin_when_any_role_must(client, settings, with_staff_row):
    settings.REQUIRE_2FA_ROLES = frozenset({"prescriber"})
    user = superuser()
    if with_staff_row:
        StaffFactory(user=user, role="front_desk")  # a role the clinic does not require it of
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    for path in ("/admin/", "/admin/clinic/site/", "/account/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == "/account/two-factor/", path
    assert client.get("/account/two-factor/").status_code == 200


@pytest.mark.django_db
def test_with_no_role_required_a_superuser_is_not_asked(client, settings):
    settings.REQUIRE_2FA_ROLES = frozenset()
    user = superuser()
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_an_ordinary_user_is_not_asked_because_of_the_superuser_rule(client, settings):
    settings.REQUIRE_2FA_ROLES = frozenset({"prescriber"})
    user = UserFactory(username="desk")
    StaffFactory(user=user, role="front_desk")
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert client.get("/account/").status_code == 200
