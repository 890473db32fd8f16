"""API tokens are django-rest-knox tokens: hashed at rest, expiring, revoked on a password change,
a change of role or a deactivation, and revocable by their owner through the API and the account
page."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
import time_machine
from django.db import connection
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.security.services import token_issue
from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD

NOW = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_failure_counts():
    empty_own_cache_keys()
    yield
    empty_own_cache_keys()


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_token_endpoint_issues_a_working_token(personas):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": personas.front_desk.user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201
    token = response.json()["token"]
    assert response.json()["expiry"]
    assert _client(token).get("/api/v1/sites/").status_code == 200


def test_wrong_password_gets_no_token(personas):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": personas.front_desk.user.username, "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not AuthToken.objects.exists()


def test_tokens_are_stored_only_as_hashes(personas):
    token, _ = token_issue(user=personas.nurse.user)
    stored = AuthToken.objects.get(user=personas.nurse.user)
    assert token not in (stored.digest, stored.token_key)
    assert len(stored.token_key) < len(token)


def test_tokens_expire(personas, settings):
    with time_machine.travel(NOW, tick=False) as traveller:
        token, _ = token_issue(user=personas.nurse.user)
        assert _client(token).get("/api/v1/sites/").status_code == 200
        traveller.shift(dt.timedelta(hours=10, minutes=1))
        assert _client(token).get("/api/v1/sites/").status_code == 401


def test_password_change_revokes_every_token(personas):
    user = personas.nurse.user
    first, _ = token_issue(user=user)
    second, _ = token_issue(user=user)
    other, _ = token_issue(user=personas.front_desk.user)
    user.set_password("a-new-long-passphrase")
    user.save()
    assert _client(first).get("/api/v1/sites/").status_code == 401
    assert _client(second).get("/api/v1/sites/").status_code == 401
    assert _client(other).get("/api/v1/sites/").status_code == 200


def test_saving_a_user_without_a_new_password_keeps_tokens(personas):
    user = personas.nurse.user
    token, _ = token_issue(user=user)
    user.first_name = "Renamed"
    user.save()
    assert _client(token).get("/api/v1/sites/").status_code == 200


def test_a_change_of_role_revokes_the_tokens_issued_under_the_old_one(personas, settings):
    # Issued to a front-desk user without a second factor; the new role requires one.
    settings.REQUIRE_2FA_ROLES = ["prescriber"]
    staff = personas.front_desk
    token, _ = token_issue(user=staff.user)
    other, _ = token_issue(user=personas.nurse.user)
    staff.save()  # saved without a change of role: the token stays
    assert _client(token).get("/api/v1/sites/").status_code == 200

    staff.role = "prescriber"
    staff.save()

    assert _client(token).get("/api/v1/sites/").status_code == 401
    assert _client(other).get("/api/v1/sites/").status_code == 200


@pytest.mark.parametrize("row", ["login", "staff"])
def test_a_deactivated_account_comes_back_without_its_old_tokens(personas, row):
    """Reactivating a login or a staff row (the laptop found again, the nurse back from leave) does
    not bring back the tokens it held: they were revoked when it was deactivated."""
    staff = personas.nurse
    token, _ = token_issue(user=staff.user)
    other, _ = token_issue(user=personas.front_desk.user)
    holder = staff.user if row == "login" else staff
    field = "is_active" if row == "login" else "active"
    setattr(holder, field, False)
    holder.save()
    setattr(holder, field, True)
    holder.save()
    assert _client(token).get("/api/v1/sites/").status_code == 401
    assert _client(other).get("/api/v1/sites/").status_code == 200


def test_logout_revokes_only_the_token_in_use(personas):
    user = personas.prescriber.user
    used, _ = token_issue(user=user)
    kept, _ = token_issue(user=user)
    assert _client(used).post("/api/v1/auth/logout/").status_code == 204
    assert _client(used).get("/api/v1/sites/").status_code == 401
    assert _client(kept).get("/api/v1/sites/").status_code == 200


def test_logout_all_revokes_every_token_of_the_user(personas):
    user = personas.prescriber.user
    used, _ = token_issue(user=user)
    other, _ = token_issue(user=user)
    someone_else, _ = token_issue(user=personas.nurse.user)
    response = _client(used).post("/api/v1/auth/logout-all/")
    assert response.status_code == 200
    assert response.json() == {"revoked": 2}
    assert _client(other).get("/api/v1/sites/").status_code == 401
    assert _client(someone_else).get("/api/v1/sites/").status_code == 200


def test_logout_needs_a_token(personas):
    assert APIClient().post("/api/v1/auth/logout/").status_code == 401


def test_account_page_lists_and_revokes_own_tokens(client, personas):
    user = personas.front_desk.user
    token, instance = token_issue(user=user)
    other, other_instance = token_issue(user=personas.nurse.user)
    client.force_login(user)
    page = client.get("/account/")
    assert page.status_code == 200
    assert instance.token_key[:8] in page.content.decode()
    assert other_instance.token_key[:8] not in page.content.decode()
    # Someone else's token cannot be revoked from here.
    assert client.post("/account/tokens/revoke/", {"token": other_instance.digest}).status_code == 404
    assert client.post("/account/tokens/revoke/", {"token": instance.digest}).status_code == 302
    assert _client(token).get("/api/v1/sites/").status_code == 401
    assert _client(other).get("/api/v1/sites/").status_code == 200


def test_account_page_revokes_all_tokens(client, personas):
    user = personas.front_desk.user
    token_issue(user=user)
    token_issue(user=user)
    client.force_login(user)
    assert client.post("/account/tokens/revoke-all/").status_code == 302
    assert not AuthToken.objects.filter(user=user).exists()


def test_account_page_needs_sign_in(client, db):
    response = client.get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_upgrade_drops_the_old_clear_text_token_table(db):
    """A database that ran DRF's authtoken keeps neither the table of clear-text tokens nor its
    migration records (the app is gone from INSTALLED_APPS)."""
    migration = importlib.import_module("clinic.security.migrations.0001_drop_drf_authtoken").Migration
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id bigint)")
        cursor.execute("INSERT INTO authtoken_token VALUES ('0123456789abcdef0123456789abcdef01234567', 1)")
        cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('authtoken', '0001_initial', now())")
    with connection.schema_editor() as editor:
        for operation in migration.operations:
            operation.database_forwards("clinic_security", editor, None, None)
    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone()[0] == 0
