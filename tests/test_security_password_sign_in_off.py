"""Turning a login's password sign-in off is a password change (clinic/security/receivers.py):
Django's admin ("Password-based authentication: Disabled") and `set_unusable_password()` sign the
login's browser sessions out through the session hash, and must revoke its API tokens too, or a
stolen token outlives the step taken because of the theft. So does any new stored hash that is
not Django re-hashing the same password at sign-in (tests/test_security_token_rehash.py)."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.security.services import token_issue
from tests.factories import UserFactory


def _works(token: str) -> bool:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api.get("/api/v1/sites/").status_code == 200


def test_making_the_password_unusable_revokes_the_api_tokens(personas):
    user = personas.front_desk.user
    token, _ = token_issue(user=user)
    assert _works(token)

    user.set_unusable_password()
    user.save()

    assert not AuthToken.objects.filter(user=user).exists()
    assert not _works(token)


def test_disabling_password_sign_in_in_the_admin_revokes_the_api_tokens(personas):
    user = personas.front_desk.user
    token, _ = token_issue(user=user)
    admin = Client()
    admin.force_login(UserFactory(username="root.disables", is_staff=True, is_superuser=True))

    page = admin.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"usable_password": "false", "password1": "", "password2": "", "unset-password": "1"},
    )

    assert page.status_code == 302, page.content[:2000]
    assert page["Location"] == f"/admin/auth/user/{user.pk}/change/"
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert not _works(token)


def test_a_new_hash_written_in_place_of_the_password_revokes_the_api_tokens(personas):
    user = personas.front_desk.user
    token, _ = token_issue(user=user)

    user.password = make_password("copper-meadow-violin-17")
    user.save()

    assert not _works(token)


def test_saving_a_login_without_touching_its_password_keeps_the_api_tokens(personas):
    user = personas.front_desk.user
    token, _ = token_issue(user=user)

    user.first_name = "Renamed"
    user.save()

    assert _works(token)
