"""A user holds at most API_TOKEN_LIMIT_PER_USER unexpired API tokens. At the limit a token request
is refused with a 403 that says how to go on (revoke one), and nothing is revoked behind anyone's
back; expired tokens do not count; two requests at once cannot both pass the limit."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.security.services import TokenLimitReached, token_issue
from tests.at_once import at_once
from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD

NOW = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    empty_own_cache_keys()
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
    empty_own_cache_keys()


def ask(user):
    return APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")


@pytest.mark.django_db
def test_at_the_limit_a_token_request_is_refused_and_says_what_to_do(personas, settings):
    settings.API_TOKEN_LIMIT_PER_USER = 3
    user = personas.front_desk.user
    kept = [ask(user).json()["token"] for _ in range(3)]
    refused = ask(user)
    assert refused.status_code == 403, refused.content
    error = refused.json()["error"]
    assert error["code"] == "token_limit_reached"
    assert "Revoke one" in error["message"]
    assert AuthToken.objects.filter(user=user).count() == 3
    # Every token kept works: nothing was revoked to make room.
    for token in kept:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert client.get("/api/v1/sites/").status_code == 200
    # Revoking one makes room for one.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {kept[0]}")
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert ask(user).status_code == 201


@pytest.mark.django_db
def test_expired_tokens_do_not_count(personas, settings, _clock):
    settings.API_TOKEN_LIMIT_PER_USER = 2
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": dt.timedelta(hours=1)}
    user = personas.nurse.user
    token_issue(user=user)
    token_issue(user=user)
    with pytest.raises(TokenLimitReached):
        token_issue(user=user)
    _clock.shift(dt.timedelta(hours=2))
    token_issue(user=user)
    assert AuthToken.objects.filter(user=user).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_do_not_both_pass_the_limit(personas, settings):
    settings.API_TOKEN_LIMIT_PER_USER = 3
    user = personas.prescriber.user
    token_issue(user=user)
    token_issue(user=user)

    def issue() -> str:
        try:
            token_issue(user=user)
        except TokenLimitReached:
            return "refused"
        return "issued"

    outcomes = at_once(issue, issue)
    assert sorted(outcomes) == ["issued", "refused"]
    assert AuthToken.objects.filter(user=user).count() == 3


def test_a_code_sent_with_a_request_refused_at_the_limit_is_not_used_up(personas, settings):
    """A refusal changes nothing: the authenticator's code that came with a request refused at the
    token limit still works once the user has revoked a token (within its 30 seconds), rather than
    the user waiting for the next code because the refused request spent this one."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.test_security_two_factor import code_for

    settings.API_TOKEN_LIMIT_PER_USER = 1
    user = personas.prescriber.user
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    with time_machine.travel(dt.datetime(2026, 11, 1, 8, 59, 50, tzinfo=dt.UTC), tick=False):  # US clocks go back
        token_issue(user=user)
        code = code_for(device)
        body = {"username": user.username, "password": PASSWORD, "otp_code": code}
        refused = APIClient().post("/api/v1/auth/token/", body, format="json")
        assert refused.status_code == 403, refused.content[:300]
        AuthToken.objects.filter(user=user).delete()
        again = APIClient().post("/api/v1/auth/token/", body, format="json")
    assert again.status_code == 201, again.content[:300]
