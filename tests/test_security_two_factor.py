"""Second factor (TOTP): staff enrol an authenticator app (secret and QR code, confirmed with a
code); sign-in then asks for the code after the password; roles the clinic names in
REQUIRE_2FA_ROLES cannot use anything before enrolling; API tokens need the code too."""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import time_machine
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD

MONDAY = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    empty_own_cache_keys()
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller
    empty_own_cache_keys()


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def enrolled_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def test_enrolment_page_shows_the_secret_and_a_qr_code(client, personas, clock):
    client.force_login(personas.prescriber.user)
    response = client.get("/account/two-factor/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html
    device = TOTPDevice.objects.get(user=personas.prescriber.user)
    assert not device.confirmed
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    assert secret[:4] in html.replace(" ", "")
    # Reloading keeps the same secret, so a code already scanned still works.
    client.get("/account/two-factor/")
    assert TOTPDevice.objects.filter(user=personas.prescriber.user).count() == 1


def test_a_wrong_code_does_not_confirm_enrolment(client, personas, clock):
    client.force_login(personas.prescriber.user)
    client.get("/account/two-factor/")
    response = client.post("/account/two-factor/", {"code": "000000"})
    assert response.status_code == 200
    assert b"not valid" in response.content
    assert not TOTPDevice.objects.get(user=personas.prescriber.user).confirmed


def test_enrolment_is_confirmed_with_a_code_from_the_app(client, personas, clock):
    client.force_login(personas.prescriber.user)
    client.get("/account/two-factor/")
    device = TOTPDevice.objects.get(user=personas.prescriber.user)
    response = client.post("/account/two-factor/", {"code": code_for(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed


def test_sign_in_asks_for_the_code_after_the_password(client, personas, clock):
    user = personas.prescriber.user
    device = enrolled_device(user)
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/login/code/"
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # not signed in yet
    response = client.post("/login/code/", {"code": code_for(device)})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/").status_code == 200


def test_a_wrong_code_at_sign_in_leaves_the_user_signed_out(client, personas, clock):
    user = personas.prescriber.user
    enrolled_device(user)
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    response = client.post("/login/code/", {"code": "123456"})
    assert response.status_code == 200
    assert b"not valid" in response.content
    assert "_auth_user_id" not in client.session


def test_repeated_wrong_codes_lock_the_sign_in(client, personas, clock, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = personas.prescriber.user
    device = enrolled_device(user)
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    for _ in range(2):
        client.post("/login/code/", {"code": "123456"})
        clock.shift(dt.timedelta(seconds=31))  # past django-otp's own per-device slow-down
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    response = client.post("/login/code/", {"code": "123456"})
    assert response.status_code == 429
    assert client.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 429


def test_the_code_step_expires(client, personas, clock):
    user = personas.prescriber.user
    device = enrolled_device(user)
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    clock.shift(dt.timedelta(minutes=6))
    response = client.post("/login/code/", {"code": code_for(device)})
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_required_role_without_a_device_is_sent_to_enrolment_first(client, personas, clock, settings):
    settings.REQUIRE_2FA_ROLES = frozenset({"prescriber", "clinic_admin"})
    user = personas.prescriber.user
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    for path in ("/", "/patients/", f"/patients/{personas.patient_a.pk}/", "/account/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == "/account/two-factor/", path
    api = client.get("/api/v1/sites/")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "second_factor_required"
    assert client.get("/account/two-factor/").status_code == 200
    device = TOTPDevice.objects.get(user=user)
    assert client.post("/account/two-factor/", {"code": code_for(device)}).status_code == 302
    assert client.get("/").status_code == 200


def test_roles_not_required_are_left_alone(client, personas, clock, settings):
    settings.REQUIRE_2FA_ROLES = frozenset({"prescriber"})
    client.post("/login/", {"username": personas.front_desk.user.username, "password": PASSWORD})
    assert client.get("/").status_code == 200


def test_required_role_with_a_device_but_no_code_this_session_is_signed_out(client, personas, clock, settings):
    settings.REQUIRE_2FA_ROLES = frozenset({"prescriber"})
    enrolled_device(personas.prescriber.user)
    client.force_login(personas.prescriber.user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session


def _token(username, **extra):
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": PASSWORD, **extra}, format="json")


def test_api_token_needs_the_code_once_enrolled(personas, clock):
    user = personas.prescriber.user
    device = enrolled_device(user)
    missing = _token(user.username)
    assert missing.status_code == 400
    assert "otp_code" in missing.json()["error"]["fields"]
    wrong = _token(user.username, otp_code="000000")
    assert wrong.status_code == 400
    assert "otp_code" in wrong.json()["error"]["fields"]
    clock.shift(dt.timedelta(seconds=31))
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    right = _token(user.username, otp_code=code_for(device))
    assert right.status_code == 201
    assert right.json()["token"]


def test_api_token_is_refused_to_a_required_role_without_a_device(personas, clock, settings):
    settings.REQUIRE_2FA_ROLES = frozenset({"prescriber"})
    response = _token(personas.prescriber.user.username)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "second_factor_enrolment_required"
    assert _token(personas.front_desk.user.username).status_code == 201


def test_unknown_role_in_the_setting_stops_startup(tmp_path):
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "true",
        "DATA_DIR": str(tmp_path),
        "REQUIRE_2FA_ROLES": "prescriber,surgeon",
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "REQUIRE_2FA_ROLES" in result.stderr


def test_an_enrolled_authenticator_cannot_be_replaced_from_the_page(client, personas, clock):
    user = personas.prescriber.user
    device = enrolled_device(user)
    client.force_login(user)
    response = client.post("/account/two-factor/", {"code": "123456"})
    assert response.status_code == 200
    assert list(TOTPDevice.objects.filter(user=user)) == [device]
