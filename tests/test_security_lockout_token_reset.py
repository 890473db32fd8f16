"""Lockout counts *repeated* failed sign-ins (README: "repeated failed sign-ins pause that username
from that address"; settings: AXES_RESET_ON_SUCCESS = True). A successful sign-in starts the count
again, on the web and on the API's token endpoint alike: an integration that once mistyped its
password four times and then signed in must not be locked out for the cool-off by a single typo
made minutes later."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def _limit_of_five(settings):
    settings.AUTH_FAILURE_LIMIT = 5
    settings.AXES_FAILURE_LIMIT = 5
    empty_own_cache_keys()
    yield
    empty_own_cache_keys()


def _ask(client: APIClient, password: str) -> int:
    return client.post(
        "/api/v1/auth/token/", {"username": "frontdesk", "password": password}, format="json"
    ).status_code


def test_a_token_obtained_starts_the_failure_count_again_as_a_web_sign_in_does(personas):
    client = APIClient()
    for _ in range(4):
        assert _ask(client, "typo") == 400
    assert _ask(client, PASSWORD) == 201

    # One typo after a successful sign-in is the first of a new run, not the fifth of the old one.
    assert _ask(client, "typo") == 400, "one typo after a successful token request locked the user out"
    assert _ask(client, PASSWORD) == 201


def test_a_token_request_opens_no_browser_session(personas, settings):
    """A token client signs in without a browser session: no session cookie comes back."""
    response = APIClient().post("/api/v1/auth/token/", {"username": "frontdesk", "password": PASSWORD}, format="json")
    assert response.status_code == 201
    assert settings.SESSION_COOKIE_NAME not in response.cookies
