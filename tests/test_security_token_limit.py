"""A user holds at most API_TOKEN_LIMIT_PER_USER unexpired API tokens. At the limit a token request
is refused with a 403 that says how to go on (revoke one), and nothing is revoked behind anyone's
back; expired tokens do not count; two requests at once cannot both pass the limit. With an
authenticator, the code is checked under the same savepoint as the token is issued (below)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from axes.models import AccessAttempt
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.security.services import TokenLimitReached, token_issue
from tests.at_once import at_once
from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD
from tests.test_security_two_factor import code_for

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


# The code and the token under one savepoint (clinic/security/api.py), the device locked for the
# check (clinic/security/two_factor.py): a wrong code is still counted (the lockout's failure and
# the device's throttle), a right code refused at the limit stays unused while a wrong one after
# it is counted, a code used for a token cannot be used again, not even by two requests at once.


def _ask(user, code):
    body = {"username": user.username, "password": PASSWORD, "otp_code": code}
    return APIClient().post("/api/v1/auth/token/", body, format="json")


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def _device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


@pytest.mark.django_db
def test_a_wrong_code_is_counted_for_lockout_and_the_device_throttle(personas):
    user = personas.prescriber.user
    device = _device(user)
    refused = _ask(user, _wrong(code_for(device)))
    assert refused.status_code == 400
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    assert AccessAttempt.objects.filter(username=user.username).get().failures_since_start == 1


@pytest.mark.django_db
def test_a_right_code_at_the_limit_stays_unused_and_a_wrong_one_after_it_is_counted(personas, settings):
    settings.API_TOKEN_LIMIT_PER_USER = 1
    user = personas.prescriber.user
    device = _device(user)
    token_issue(user=user)
    code = code_for(device)
    assert _ask(user, code).status_code == 403  # at the limit
    assert _ask(user, _wrong(code)).status_code == 400
    assert AccessAttempt.objects.filter(username=user.username).get().failures_since_start == 1
    AuthToken.objects.filter(user=user).delete()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.save()
    assert _ask(user, code).status_code == 201, "the right code refused at the limit was not spent"


@pytest.mark.django_db
def test_a_code_used_for_a_token_cannot_be_used_again(personas):
    user = personas.prescriber.user
    device = _device(user)
    code = code_for(device)
    assert _ask(user, code).status_code == 201
    assert _ask(user, code).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_the_same_code_at_once_get_one_token(personas):
    """django-otp refuses a code already used, but two requests reading the device at once would
    both see it unused: the device's row is locked for the check (two_factor.code_verify)."""
    user = personas.prescriber.user
    device = _device(user)
    code = code_for(device)
    answers = at_once(lambda: _ask(user, code).status_code, lambda: _ask(user, code).status_code)
    assert sorted(answers) == [201, 400]
    assert AuthToken.objects.filter(user=user).count() == 1
