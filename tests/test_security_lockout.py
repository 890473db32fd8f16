"""Lockout: repeated wrong passwords lock the username from that address (web, admin and the API's
token endpoint), and bad API tokens get an address throttled, answering 429 in the API's shape."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from rest_framework.test import APIClient

from clinic.models import AccessLog
from clinic.security.services import token_issue
from clinic.security.signals import api_token_failed
from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def _fresh_failure_counts(settings):
    settings.AUTH_FAILURE_LIMIT = 5
    settings.AXES_FAILURE_LIMIT = 5
    empty_own_cache_keys()
    yield
    empty_own_cache_keys()


def _web_login(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_right_password_after_too_many_wrong_ones_is_refused(client, personas):
    user = personas.front_desk.user
    for _ in range(5):
        assert _web_login(client, user.username, "wrong-password").status_code in (200, 429)
    response = _web_login(client, user.username, PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert response["Retry-After"] == str(15 * 60)
    assert "_auth_user_id" not in client.session


def test_a_few_typos_do_not_lock_anyone_out(client, personas):
    user = personas.front_desk.user
    for _ in range(4):
        _web_login(client, user.username, "wrong-password")
    response = _web_login(client, user.username, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_lockout_ends_after_the_cool_off(client, personas, settings):
    import datetime as dt

    import time_machine

    user = personas.front_desk.user
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False) as traveller:
        for _ in range(5):
            _web_login(client, user.username, "wrong-password")
        assert _web_login(client, user.username, PASSWORD).status_code == 429
        traveller.shift(dt.timedelta(minutes=16))
        assert _web_login(client, user.username, PASSWORD).status_code == 302


def test_admin_login_goes_through_the_clinic_sign_in(client, personas):
    """So the lockout and the second-factor step cannot be skipped through /admin/login/."""
    response = client.get("/admin/login/?next=/admin/clinic/site/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/admin/clinic/site/"
    user = personas.clinic_admin.user
    for _ in range(5):
        _web_login(client, user.username, "wrong-password")
    # The admin's own form no longer checks passwords, so it is no way around the lockout.
    client.post("/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert client.post("/login/?next=/admin/", {"username": user.username, "password": PASSWORD}).status_code == 429


def test_admin_login_refuses_a_signed_in_non_admin_without_a_loop(client, personas):
    client.force_login(personas.patient_a.user)
    assert client.get("/admin/login/?next=/admin/").status_code == 403


def test_token_endpoint_locks_out_after_wrong_passwords(personas):
    client = APIClient()
    user = personas.nurse.user
    for _ in range(5):
        response = client.post("/api/v1/auth/token/", {"username": user.username, "password": "nope"}, format="json")
        assert response.status_code in (400, 429)
    response = client.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert response.json()["error"]["details"]["retry_after_seconds"] == 15 * 60


def test_bad_api_tokens_get_the_address_throttled(personas):
    good_token, _ = token_issue(user=personas.front_desk.user)
    client = APIClient()
    for attempt in range(5):
        client.credentials(HTTP_AUTHORIZATION=f"Token guess{attempt:059d}")
        assert client.get("/api/v1/sites/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token another-guess")
    response = client.get("/api/v1/sites/")
    assert response.status_code == 429
    body = response.json()
    assert body["error"]["code"] == "throttled"
    assert body["error"]["details"]["retry_after_seconds"] == 15 * 60
    assert response["Retry-After"] == str(15 * 60)
    # Bad tokens from that address stay refused for the cool-off.
    client.credentials(HTTP_AUTHORIZATION="Token yet-another-guess")
    assert client.get("/api/v1/sites/").status_code == 429
    # Another address is not affected.
    other = APIClient(REMOTE_ADDR="10.1.2.3")
    other.credentials(HTTP_AUTHORIZATION=f"Token {good_token}")
    assert other.get("/api/v1/sites/").status_code == 200


def test_valid_token_is_served_after_twenty_bad_ones_from_the_same_address(personas):
    """Clients behind one NAT share an address: a mistyped script must not lock out the EHR interface."""
    good_token, _ = token_issue(user=personas.front_desk.user)
    client = APIClient()
    statuses = []
    for attempt in range(20):
        client.credentials(HTTP_AUTHORIZATION=f"Token guess{attempt:059d}")
        statuses.append(client.get("/api/v1/sites/").status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 15  # bad tokens are still refused while the address cools off
    client.credentials(HTTP_AUTHORIZATION=f"Token {good_token}")
    assert client.get("/api/v1/sites/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token guess-after-the-good-one")
    assert client.get("/api/v1/sites/").status_code == 429


def test_expired_token_counts_as_a_bad_one_while_the_address_cools_off(personas):
    import datetime as dt

    import time_machine

    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False) as traveller:
        old_token, _ = token_issue(user=personas.front_desk.user)
        traveller.shift(dt.timedelta(days=400))
        client = APIClient()
        for attempt in range(5):
            client.credentials(HTTP_AUTHORIZATION=f"Token guess{attempt:059d}")
            client.get("/api/v1/sites/")
        client.credentials(HTTP_AUTHORIZATION=f"Token {old_token}")
        assert client.get("/api/v1/sites/").status_code == 429


def test_failed_token_sends_a_signal_the_access_log_can_record(personas):
    received = []

    def listener(sender, request, ip_address, **kwargs):
        received.append((request.path, ip_address))

    api_token_failed.connect(listener)
    try:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
        assert client.get("/api/v1/patients/").status_code == 401
    finally:
        api_token_failed.disconnect(listener)
    assert received == [("/api/v1/patients/", "127.0.0.1")]


def test_session_users_are_not_affected_by_the_token_throttle(client, personas):
    bad = APIClient()
    for _ in range(6):
        bad.credentials(HTTP_AUTHORIZATION="Token bad")
        bad.get("/api/v1/sites/")
    client.force_login(personas.front_desk.user)
    assert client.get("/api/v1/sites/").status_code == 200


def test_forwarded_for_counts_only_behind_a_trusted_proxy(personas, settings):
    # Without a trusted proxy the header is ignored: changing it on every try dodges nothing.
    for attempt in range(5):
        client = APIClient(HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}")
        client.credentials(HTTP_AUTHORIZATION="Token bad")
        assert client.get("/api/v1/sites/").status_code == 401
    client = APIClient(HTTP_X_FORWARDED_FOR="198.51.100.1")
    client.credentials(HTTP_AUTHORIZATION="Token bad")
    assert client.get("/api/v1/sites/").status_code == 429

    settings.TRUSTED_PROXY_COUNT = 1
    # Behind one proxy, the address it appended is the client's; what the client wrote before it is not.
    behind_proxy = APIClient(HTTP_X_FORWARDED_FOR="127.0.0.1, 198.51.100.2")
    behind_proxy.credentials(HTTP_AUTHORIZATION="Token bad")
    assert behind_proxy.get("/api/v1/sites/").status_code == 401


# Anyone can send a NUL or another control character in a header or a login form. PostgreSQL
# refuses a NUL in text, so django-axes' failed-attempt row must not take one as sent: the attempt
# would be a 500 and, worse, never counted, so a guesser could try passwords without end.
NUL_USER_AGENT = "Mozilla/5.0\x00<script>"


def _failed_login_rows():
    return AccessLog.objects.filter(event=AccessLog.Event.LOGIN_FAILED)


def test_wrong_password_with_a_nul_in_the_user_agent_is_an_ordinary_refusal(client, personas):
    user = personas.front_desk.user
    response = client.post(
        "/login/", {"username": user.username, "password": "wrong-password"}, HTTP_USER_AGENT=NUL_USER_AGENT
    )
    assert response.status_code == 200  # the form again, with its error
    assert b"correct username and password" in response.content
    attempt = AccessAttempt.objects.get(username=user.username)
    assert (attempt.failures_since_start, attempt.user_agent) == (1, "Mozilla/5.0\ufffd<script>")
    logged = _failed_login_rows().get()
    assert (logged.username, logged.user_agent, logged.status_code) == (
        user.username,
        "Mozilla/5.0\ufffd<script>",
        200,
    )


def test_nul_user_agents_do_not_escape_the_lockout(client, personas):
    user = personas.front_desk.user
    for attempt in range(5):
        response = client.post(
            "/login/",
            {"username": user.username, "password": "wrong-password"},
            HTTP_USER_AGENT=f"guesser {attempt}\x00",
        )
        assert response.status_code in (200, 429)
    for user_agent in (NUL_USER_AGENT, "Mozilla/5.0"):
        response = client.post("/login/", {"username": user.username, "password": PASSWORD}, HTTP_USER_AGENT=user_agent)
        assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert _failed_login_rows().count() == 7


def test_control_characters_in_the_accept_header_and_the_username_are_counted_replaced(client, personas):
    response = client.post(
        "/login/",
        {"username": "front\x01desk\x7f", "password": "wrong-password"},
        HTTP_ACCEPT="text/html\x00\x1b",
        HTTP_USER_AGENT="curl\x1b",
    )
    assert response.status_code == 200
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.http_accept, attempt.user_agent) == (
        "front\ufffddesk\ufffd",
        "text/html\ufffd\ufffd",
        "curl\ufffd",
    )
    assert _failed_login_rows().get().username == "front\ufffddesk\ufffd"


def test_a_nul_in_the_username_is_refused_by_the_form_not_a_500(client, personas):
    user = personas.front_desk.user
    response = client.post(
        "/login/", {"username": f"{user.username}\x00", "password": PASSWORD}, HTTP_USER_AGENT=NUL_USER_AGENT
    )
    assert response.status_code == 200
    assert b"Username contains a character that is not allowed (a null character)" in response.content
    assert "_auth_user_id" not in client.session


def test_token_endpoint_with_a_nul_user_agent_refuses_counts_and_locks_out(personas):
    client = APIClient(HTTP_USER_AGENT=NUL_USER_AGENT)
    user = personas.nurse.user
    response = client.post("/api/v1/auth/token/", {"username": user.username, "password": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] != "server_error"
    logged = _failed_login_rows().get()
    assert (logged.username, logged.user_agent) == (user.username, "Mozilla/5.0\ufffd<script>")
    for _ in range(4):
        response = client.post("/api/v1/auth/token/", {"username": user.username, "password": "nope"}, format="json")
        assert response.status_code in (400, 429)
    response = client.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"


def test_token_endpoint_refuses_a_nul_in_the_username_as_a_bad_request(personas):
    client = APIClient(HTTP_USER_AGENT=NUL_USER_AGENT)
    response = client.post(
        "/api/v1/auth/token/", {"username": f"{personas.nurse.user.username}\x00", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 400
    assert "username" in str(response.json())
