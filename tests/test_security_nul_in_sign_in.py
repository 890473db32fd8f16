"""A NUL typed or sent in the sign-in and password forms (and the API's token request): anyone can
send one, and PostgreSQL can neither keep nor compare it. Each is refused as the form's own error,
naming the box and saying what to do, never a 500, and the page shown again does not carry the
NUL (or another control character) back as it was sent. A password box is never filled again."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from clinic.models import AccessLog
from tests.factories import PASSWORD, UserFactory

NOT_ALLOWED = "contains a character that is not allowed (a null character). Type it again."
LINK = re.compile(r"https?://[^/\s]+(/account/password/reset/[^/\s]+/[^/\s]+/)")


def _error_of(page: str, field: str) -> list[str]:
    block = re.search(rf'id="id_{field}-error">(.*?)</div>', page, re.S)
    return re.findall(r"<p>(.*?)</p>", block.group(1)) if block else []


def _box_value(page: str, field: str) -> str | None:
    found = re.search(rf'<input[^>]*name="{field}"[^>]*>', page, re.S)
    assert found, f"no {field} box"
    value = re.search(r'value="([^"]*)"', found.group(0))
    return value.group(1) if value else None


@pytest.mark.django_db
def test_a_nul_in_the_username_is_the_forms_error_and_not_shown_back(client, personas):
    user = personas.front_desk.user
    response = client.post("/login/", {"username": f"{user.username}\x00<b>", "password": PASSWORD})
    assert response.status_code == 200
    page = response.content.decode()
    assert "\x00" not in page
    assert _error_of(page, "username") == [f"Username {NOT_ALLOWED}"]
    assert _box_value(page, "username") == f"{user.username}\ufffd&lt;b&gt;"
    assert "_auth_user_id" not in client.session
    # No password was tried for any login: not a failed sign-in.
    assert not AccessLog.objects.filter(event=AccessLog.Event.LOGIN_FAILED).exists()


@pytest.mark.django_db
def test_a_nul_in_the_password_is_said_under_the_password_box(client, personas):
    user = personas.front_desk.user
    response = client.post("/login/", {"username": user.username, "password": f"{PASSWORD}\x00"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "\x00" not in page
    assert _error_of(page, "password") == [f"Password {NOT_ALLOWED}"]
    assert _box_value(page, "password") is None
    assert _box_value(page, "username") == user.username
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_other_control_characters_are_tried_but_not_shown_back(client, personas):
    response = client.post("/login/", {"username": "front\x01desk\x1b", "password": "wrong"})
    assert response.status_code == 200
    page = response.content.decode()
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", page)
    assert _box_value(page, "username") == "front\ufffddesk\ufffd"
    assert "correct username and password" in page


@pytest.mark.django_db
def test_a_nul_in_the_reset_address_is_the_forms_error_and_not_shown_back(client):
    response = client.post("/account/password/reset/", {"email": "desk\x00@clinic.example"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "\x00" not in page
    assert f"Email {NOT_ALLOWED}" in _error_of(page, "email")
    assert _box_value(page, "email") == "desk\ufffd@clinic.example"
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_nul_in_a_new_password_is_the_forms_error(client):
    user = UserFactory(username="nul.reset", email="nul.reset@clinic.example")
    assert client.post("/account/password/reset/", {"email": user.email}).status_code == 302
    [link] = LINK.findall(mail.outbox[0].body)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    new = "violet-harbour-lantern-42\x00"
    response = client.post(form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert response.status_code == 200
    page = response.content.decode()
    assert "\x00" not in page
    assert f"New password {NOT_ALLOWED}" in _error_of(page, "new_password1")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["username", "password", "otp_code"])
def test_the_token_endpoint_refuses_a_nul_as_a_bad_request(personas, field):
    sent = {"username": personas.nurse.user.username, "password": PASSWORD, "otp_code": "123456"}
    sent[field] += "\x00"
    response = APIClient().post("/api/v1/auth/token/", sent, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid"
    assert body["error"]["fields"] == {field: ["Null characters are not allowed."]}
    assert "\x00" not in response.content.decode()
