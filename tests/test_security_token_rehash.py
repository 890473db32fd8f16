"""API tokens are revoked by a password *change* (README: "a password change revokes them all"),
not by Django quietly re-hashing the same password on sign-in (a new hasher or more iterations
after an upgrade: Django's own setter says "Password hash upgrades shouldn't be considered
password changes"). Otherwise every integration token of a user (an EHR's) dies the first time
that user signs in after a Django upgrade."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from clinic.security.services import token_issue
from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD

# The stored hashes of the factories are MD5 (tests/settings.py); making another hasher the
# preferred one is what a Django upgrade does to PBKDF2's iteration count.
UPGRADED_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]


@pytest.fixture(autouse=True)
def _fresh_failure_counts():
    empty_own_cache_keys()
    yield
    empty_own_cache_keys()


def _works(token: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/v1/sites/").status_code == 200


def test_signing_in_on_the_web_after_a_hasher_upgrade_keeps_the_users_api_tokens(client, personas, settings):
    user = personas.front_desk.user
    integration_token, _ = token_issue(user=user)
    assert _works(integration_token)
    settings.PASSWORD_HASHERS = UPGRADED_HASHERS

    response = client.post("/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_")  # Django re-hashed the same password
    assert _works(integration_token), "a re-hash of the same password revoked the user's API tokens"


def test_asking_for_a_second_token_after_a_hasher_upgrade_keeps_the_first(personas, settings):
    user = personas.front_desk.user
    first, _ = token_issue(user=user)
    settings.PASSWORD_HASHERS = UPGRADED_HASHERS

    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")

    assert response.status_code == 201
    assert _works(response.json()["token"])
    assert _works(first), "obtaining a token for a second integration revoked the first one"


def test_signing_in_after_an_iteration_count_rise_keeps_the_users_api_tokens(client, personas, settings):
    """Same hasher, more iterations: PBKDF2's `must_update`, what every Django release does."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    user = personas.front_desk.user
    fewer = PBKDF2PasswordHasher().encode(PASSWORD, "fixedsalt123", iterations=1000)
    User.objects.filter(pk=user.pk).update(password=fewer)
    integration_token, _ = token_issue(user=user)

    response = client.post("/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$") and user.password != fewer  # re-hashed
    assert _works(integration_token), "a re-hash of the same password revoked the user's API tokens"
