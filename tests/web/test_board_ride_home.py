"""The board's "No ride home recorded" callout lets the desk record who drives the patient home
(the patient must not drive after a session): a "Driver home" field and a Save button per
session, posting to the session action "ride". A clinic administrator sees the callout without
the form (they see no patient data)."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from scheduling.services import appointment_cancel
from tests.web.conftest import NOW, login

pytestmark = pytest.mark.django_db

BOARD = reverse("web:board") + "?day=2026-03-02"


def _callout(html: str) -> str:
    found = re.search(r'<section[^>]*aria-labelledby="ride-h".*?</section>', html, re.S)
    return found.group(0) if found else ""


def _ride_url(session) -> str:
    return reverse("web:appointment-action", args=[session.pk, "ride"])


def _first_day_sessions(web):
    return [web.sessions_a[0], web.sessions_b[0]]


def test_the_desk_gets_a_driver_home_form_for_each_session_without_a_ride(client, web):
    login(client, web.desk.user)
    callout = _callout(client.get(BOARD).content.decode())
    for session in _first_day_sessions(web):
        assert f'action="{_ride_url(session)}"' in callout
        assert f'id="ride-home-{session.pk}"' in callout
    assert "Driver home" in callout
    assert 'name="ride_home"' in callout and 'maxlength="120"' in callout
    assert f'name="next" value="{BOARD}"' in callout
    assert ">Save<" in callout


def test_posting_a_driver_records_it_and_the_callout_no_longer_lists_the_session(client, web):
    session = web.sessions_a[0]
    login(client, web.desk.user)
    response = client.post(_ride_url(session), {"ride_home": "  Tom Archer (husband) ", "next": BOARD})
    assert response.status_code == 302 and response["Location"] == BOARD
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Alice Archer's ride home is recorded."]
    session.refresh_from_db()
    assert session.ride_home == "Tom Archer (husband)"
    assert session.history.first().history_change_reason == "Ride home recorded"
    board = client.get(BOARD).content.decode()
    callout = _callout(board)
    assert _ride_url(session) not in callout and "Alice Archer" not in callout
    assert _ride_url(web.sessions_b[0]) in callout
    assert "Tom Archer (husband)" in board  # the session's block shows the ride


def test_a_blank_driver_is_flashed_as_an_error_and_nothing_is_recorded(client, web):
    session = web.sessions_a[0]
    login(client, web.desk.user)
    response = client.post(_ride_url(session), {"ride_home": "   ", "next": BOARD})
    assert response.status_code == 302 and response["Location"] == BOARD
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(shown) == 1 and "who drives the patient home" in shown[0]
    session.refresh_from_db()
    assert session.ride_home == ""


def test_a_ride_for_a_cancelled_session_is_refused_with_its_status(client, web):
    session = web.sessions_a[0]
    appointment_cancel(appointment=session, actor=web.desk.user, reason="Flu", now=NOW)
    login(client, web.desk.user)
    response = client.post(_ride_url(session), {"ride_home": "Tom", "next": BOARD})
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(shown) == 1 and "cancelled" in shown[0]
    session.refresh_from_db()
    assert session.ride_home == ""


def test_a_clinic_administrator_sees_the_callout_without_the_form(client, web):
    login(client, web.admin.user)
    board = client.get(BOARD).content.decode()
    callout = _callout(board)
    assert callout, "the callout still counts and lists the sessions for an administrator"
    assert callout.count("<li") == len(_first_day_sessions(web))
    assert "/ride/" not in callout and "Driver home" not in callout and 'name="ride_home"' not in callout


def test_a_clinic_administrator_cannot_post_a_ride(client, web):
    session = web.sessions_a[0]
    login(client, web.admin.user)
    response = client.post(_ride_url(session), {"ride_home": "Tom", "next": BOARD})
    assert response.status_code in (403, 404)
    session.refresh_from_db()
    assert session.ride_home == ""


def test_a_patient_cannot_post_a_ride_even_for_their_own_session(client, web):
    session = web.sessions_a[0]
    login(client, web.patient_a.user)
    response = client.post(_ride_url(session), {"ride_home": "Tom", "next": BOARD})
    assert response.status_code in (403, 404)
    session.refresh_from_db()
    assert session.ride_home == ""


def test_a_driver_with_control_characters_is_refused_as_the_api_refuses_it(client, web):
    session = web.sessions_a[0]
    login(client, web.desk.user)
    response = client.post(_ride_url(session), {"ride_home": "Tom\x1b[2J\x07", "next": BOARD})
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(shown) == 1 and "Control characters" in shown[0]
    session.refresh_from_db()
    assert session.ride_home == ""
