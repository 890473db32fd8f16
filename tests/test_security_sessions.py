"""Idle timeout: staff are signed out after SESSION_IDLE_MINUTES_STAFF without a request (20 by
default), patients after the longer SESSION_IDLE_MINUTES_PATIENT; activity keeps a session alive."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.factories import PASSWORD

MONDAY = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_staff_are_signed_out_after_twenty_idle_minutes(client, personas, clock):
    client.force_login(personas.front_desk.user)
    assert client.get("/").status_code == 200
    clock.shift(dt.timedelta(minutes=21))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert not _signed_in(client)


def test_staff_activity_keeps_the_session_alive(client, personas, clock):
    client.force_login(personas.front_desk.user)
    for _ in range(4):
        assert client.get("/").status_code == 200
        clock.shift(dt.timedelta(minutes=15))
    assert client.get("/").status_code == 200
    assert _signed_in(client)


def test_staff_idle_timeout_comes_from_settings(client, personas, clock, settings):
    settings.SESSION_IDLE_TIMEOUT_STAFF = dt.timedelta(minutes=30)
    client.force_login(personas.nurse.user)
    client.get("/")
    clock.shift(dt.timedelta(minutes=25))
    assert client.get("/").status_code == 200
    clock.shift(dt.timedelta(minutes=31))
    assert client.get("/").status_code == 302


def test_patients_keep_a_longer_session(client, personas, clock, settings):
    settings.SESSION_IDLE_TIMEOUT_PATIENT = dt.timedelta(hours=12)
    client.force_login(personas.patient_a.user)
    assert client.get("/").status_code == 200
    clock.shift(dt.timedelta(hours=2))
    assert client.get("/").status_code == 200
    clock.shift(dt.timedelta(hours=12, minutes=1))
    assert client.get("/").status_code == 302


def test_idle_staff_api_session_is_refused(client, personas, clock):
    client.force_login(personas.front_desk.user)
    assert client.get("/api/v1/sites/").status_code == 200
    clock.shift(dt.timedelta(minutes=21))
    assert client.get("/api/v1/sites/").status_code in (401, 403)


def test_session_cookie_expires_with_the_idle_window(client, personas, clock):
    response = client.post("/login/", {"username": personas.front_desk.user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies["sessionid"]["max-age"] == 20 * 60


def test_idle_sign_out_says_why_even_when_the_stored_session_lives_longer(client, personas, clock):
    """A session whose stored expiry outlasts the idle window (made before the window was
    shortened) is still ended by the idle rule, and the login page says why."""
    client.force_login(personas.front_desk.user)
    session = client.session
    session.set_expiry(3600)
    session.save()
    clock.shift(dt.timedelta(minutes=21))
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/login/")
    assert "signed out after 20 minutes without activity" in response.content.decode()
    assert not _signed_in(client)
