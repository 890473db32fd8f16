"""The web sign-in's code step (clinic.security.views.login_code) with the device locked for the
check (two_factor.code_verify), outside any request transaction: two browsers posting the same
code at once sign in once; a wrong code is counted; an authenticator removed meanwhile refuses
the code (it was a 500)."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.at_once import at_once
from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD
from tests.test_security_two_factor import clock, code_for, enrolled_device  # noqa: F401  (clock: the fixture)


def test_a_wrong_web_code_counts_for_the_device_throttle_and_the_lockout(client, personas, clock):  # noqa: F811
    user = personas.prescriber.user
    device = enrolled_device(user)
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    client.post("/login/code/", {"code": "000000" if code_for(device) != "000000" else "111111"})
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    assert sum(a.failures_since_start for a in AccessAttempt.objects.filter(username=user.username)) == 1
    # Right code inside django-otp's slow-down: refused.
    client.post("/login/code/", {"code": code_for(device)})
    assert "_auth_user_id" not in client.session


def test_a_right_web_code_signs_in_and_cannot_be_used_again(client, personas, clock):  # noqa: F811
    user = personas.prescriber.user
    device = enrolled_device(user)
    code = code_for(device)
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert client.post("/login/code/", {"code": code}).status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    other = Client()
    other.post("/login/", {"username": user.username, "password": PASSWORD})
    other.post("/login/code/", {"code": code})
    assert "_auth_user_id" not in other.session


@pytest.mark.django_db(transaction=True)
def test_two_web_sign_ins_with_the_same_code_at_once_sign_in_once(personas):
    empty_own_cache_keys()
    user = personas.prescriber.user
    device = enrolled_device(user)
    code = code_for(device)
    clients = [Client(), Client()]
    for c in clients:
        c.post("/login/", {"username": user.username, "password": PASSWORD})

    def ask(c):
        return lambda: c.post("/login/code/", {"code": code}).status_code

    answers = at_once(ask(clients[0]), ask(clients[1]))
    assert sorted(answers) == [200, 302], answers
    empty_own_cache_keys()


def test_enrolment_still_confirms_with_a_code_and_refuses_it_again(client, personas, clock):  # noqa: F811
    user = personas.nurse.user
    client.force_login(user)
    client.get("/account/two-factor/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    code = code_for(device)
    assert client.post("/account/two-factor/", {"code": code}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed and device.last_t > -1


def test_a_code_for_an_authenticator_removed_meanwhile_is_refused_not_a_500(client, personas, clock):  # noqa: F811
    """An administrator removes a lost phone's authenticator while someone sits on the code step:
    login_code read the device, then code_verify's locked .get(pk=...) finds no row."""
    from unittest import mock

    from clinic.security import views

    user = personas.prescriber.user
    device = enrolled_device(user)
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    real = views.code_verify

    def removed_meanwhile(*, device, code):
        TOTPDevice.objects.filter(pk=device.pk).delete()
        return real(device=device, code=code)

    with mock.patch.object(views, "code_verify", removed_meanwhile):
        response = client.post("/login/code/", {"code": code_for(device)})
    assert response.status_code < 500
    assert "_auth_user_id" not in client.session
