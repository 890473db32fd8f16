"""Per-client limits count an IPv6 client by its /64 (clinic/security/authentication.py,
client_counted_as): a subscriber or host is given a whole /64 and can take a new address in it for
every request, so counting each address would be no limit at all. The password-reset page's limit
per client, the bad-API-token throttle, the sign-in lockout (django-axes) and DRF's request
throttles count so; an IPv4-mapped address counts as its IPv4, and a port a proxy wrote is dropped.
The access log keeps the exact address."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client, RequestFactory
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from clinic.security.authentication import client_counted_as, client_ip, lockout_client_ip
from clinic.security.password_reset import RESET_LIMIT_PER_CLIENT
from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD
from tests.scheduling.conftest import NOW


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


# --- DRF's throttles and odd client addresses (a review's findings) ------------------------------

TOKEN_URL = "/api/v1/auth/token/"
ANON_LIMIT = 5


def _ask_for_tokens(monkeypatch, addresses, forwarded=None) -> list[int]:
    """Token requests with wrong passwords, one per address, under an anonymous rate of ANON_LIMIT
    a minute (tests/settings.py raises the production 60/min)."""
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": f"{ANON_LIMIT}/min", "user": "100000/min"})
    answers = []
    with time_machine.travel(NOW, tick=False):
        for n, address in enumerate(addresses):
            extra = {"REMOTE_ADDR": address}
            if forwarded is not None:
                extra["HTTP_X_FORWARDED_FOR"] = forwarded(n)
            client = APIClient(**extra)
            answers.append(
                client.post(TOKEN_URL, {"username": f"someone{n}", "password": "guess"}, format="json").status_code
            )
    return answers


def test_one_address_is_throttled_by_the_anonymous_rate(monkeypatch, db):
    assert _ask_for_tokens(monkeypatch, ["198.51.100.7"] * (ANON_LIMIT + 1))[-1] == 429


def test_the_anonymous_rate_counts_an_ipv6_client_by_its_64(monkeypatch, db):
    """The token endpoint's one limit across usernames (password spraying) is DRF's anonymous
    throttle: it counted each address of a /64 apart."""
    answers = _ask_for_tokens(monkeypatch, [f"2001:db8:4:4::{n + 1:x}" for n in range(ANON_LIMIT + 1)])
    assert answers[-1] == 429


def test_the_anonymous_rate_ignores_an_x_forwarded_for_the_client_wrote(monkeypatch, db):
    """With no trusted proxies, DRF keyed its throttle on the whole X-Forwarded-For the client sent:
    a new made-up header per request was a new client."""
    answers = _ask_for_tokens(
        monkeypatch, ["198.51.100.7"] * (ANON_LIMIT + 1), forwarded=lambda n: f"203.0.113.{n + 1}"
    )
    assert answers[-1] == 429


@pytest.mark.parametrize(
    ("written_by_proxy", "counted"),
    [("198.51.100.7:51234", "198.51.100.7"), ("[2001:db8::1]:443", "2001:db8::/64"), ("unknown", None)],
)
def test_a_proxy_that_writes_a_port_or_no_address_makes_no_500(settings, personas, written_by_proxy, counted):
    """Some proxies write the client with its port, in brackets, or as "unknown": a wrong password
    from such a client was a 500 (axes stored the text in an inet column). The port is dropped (a
    new port is not a new client); what is no address is counted as none."""
    settings.TRUSTED_PROXY_COUNT = 1
    client = Client(raise_request_exception=False)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            "/login/",
            {"username": personas.front_desk.user.username, "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=written_by_proxy,
        )
    assert response.status_code == 200
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=written_by_proxy)
    assert (client_counted_as(client_ip(request)) if counted else lockout_client_ip(request)) == counted
