"""Per-client limits count an IPv6 client by its /64 (clinic/security/authentication.py,
client_counted_as): a subscriber or host is given a whole /64 and can take a new address in it for
every request, so counting each address would be no limit at all. The password-reset page's limit
per client, the bad-API-token throttle and the sign-in lockout (django-axes) count so; an
IPv4-mapped address counts as its IPv4. The access log keeps the exact address."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from clinic.security.authentication import client_counted_as
from clinic.security.password_reset import RESET_LIMIT_PER_CLIENT
from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def _fresh_counts(settings):
    settings.AUTH_FAILURE_LIMIT = 5
    settings.AXES_FAILURE_LIMIT = 5
    empty_own_cache_keys()
    yield
    empty_own_cache_keys()


@pytest.mark.parametrize(
    ("address", "counted"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("not an address", "not an address"),
        (None, "unknown"),
    ],
)
def test_what_a_client_is_counted_as(address, counted):
    assert client_counted_as(address) == counted


def test_the_reset_pages_client_limit_holds_across_one_ipv6_64(client, db):
    answers = [
        client.post(
            "/account/password/reset/", {"email": f"p{n}@clinic.example"}, REMOTE_ADDR=f"2001:db8:7:7::{n + 1:x}"
        ).status_code
        for n in range(RESET_LIMIT_PER_CLIENT + 1)
    ]
    assert answers[:-1] == [302] * RESET_LIMIT_PER_CLIENT
    assert answers[-1] == 429
    # Another /64 is another client.
    other = client.post("/account/password/reset/", {"email": "q@clinic.example"}, REMOTE_ADDR="2001:db8:7:8::1")
    assert other.status_code == 302


def test_bad_api_tokens_from_addresses_of_one_ipv6_64_are_throttled_together(db):
    answers = []
    for attempt in range(6):
        client = APIClient(REMOTE_ADDR=f"2001:db8:9:9::{attempt + 1:x}")
        client.credentials(HTTP_AUTHORIZATION=f"Token guess{attempt:059d}")
        answers.append(client.get("/api/v1/sites/").status_code)
    assert answers == [401] * 5 + [429]


def test_wrong_passwords_from_addresses_of_one_ipv6_64_lock_the_username_out(client, personas):
    """The sign-in lockout (django-axes) counts per username and client: a guesser taking a new
    address of its /64 for every try was never locked out."""
    user = personas.front_desk.user
    for attempt in range(5):
        client.post(
            "/login/", {"username": user.username, "password": "wrong"}, REMOTE_ADDR=f"2001:db8:5:5::{attempt + 1:x}"
        )
    response = client.post("/login/", {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="2001:db8:5:5::99")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # The same username from another /64 (the clinician at work) is not locked out.
    other = client.post("/login/", {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="2001:db8:5:6::1")
    assert other.status_code == 302
