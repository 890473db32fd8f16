"""Sign-in security: the lockout holds on the second-factor step."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD
from tests.test_security_two_factor import code_for, enrolled_device

MONDAY = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    empty_own_cache_keys()
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller
    empty_own_cache_keys()


def _forget_device_slow_down(device: TOTPDevice) -> None:
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)


def test_a_locked_out_sign_in_is_not_completed_by_a_right_code(client, personas, clock, settings):
    """Wrong codes lock the username and address out (429), but the code page goes on checking
    codes for the pending sign-in and signs the user in on a right one: the lockout does not stop
    a code being guessed (clinic/security/views.py login_code never asks axes)."""
    settings.AXES_FAILURE_LIMIT = 3
    user = personas.prescriber.user
    device = enrolled_device(user)
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    for _ in range(3):
        client.post("/login/code/", {"code": "123456"})
        clock.shift(dt.timedelta(seconds=31))
        _forget_device_slow_down(device)
    assert client.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 429  # locked
    response = client.post("/login/code/", {"code": code_for(device)})
    assert "_auth_user_id" not in client.session, "signed in while locked out"
    assert response.status_code == 429


def test_wrong_codes_sent_with_a_nul_user_agent_are_counted_not_a_500(client, personas, clock, settings):
    """A NUL (which PostgreSQL refuses in text) in the user agent does not turn a wrong code into a
    500 that axes never counted (clinic.security.lockout.LockoutHandler)."""
    settings.AXES_FAILURE_LIMIT = 3
    user = personas.prescriber.user
    device = enrolled_device(user)
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    for _ in range(3):
        assert client.post("/login/code/", {"code": "123456"}, HTTP_USER_AGENT="ua\x00").status_code in (200, 429)
        clock.shift(dt.timedelta(seconds=31))
        _forget_device_slow_down(device)
    response = client.post("/login/", {"username": user.username, "password": PASSWORD}, HTTP_USER_AGENT="ua\x00")
    assert response.status_code == 429
