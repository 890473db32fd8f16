"""Confirm and cancel links: signed, expiring, single-purpose; GET shows, POST acts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client

from scheduling.models import AppointmentStatus, Reminder, ReminderKind, ReminderStatus
from scheduling.reminders import tokens
from scheduling.reminders.rendering import link_url
from scheduling.reminders.services import reminders_reschedule, reminders_schedule
from tests.reminders.helpers import UTC, fresh, make_appointment, move

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def appointment(clock):
    booked = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=booked, now=NOW)
    return booked


def path_of(appointment, purpose: str) -> str:
    return link_url(appointment=appointment, purpose=purpose).removeprefix("https://clinic.example")


def post_with_csrf(client: Client, path: str):
    page = client.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token, "the page must carry a form with a CSRF token"
    return client.post(path, {"csrfmiddlewaretoken": token.group(1)})


def test_confirm_link_get_shows_the_session_and_changes_nothing(appointment):
    response = Client().get(path_of(appointment, tokens.CONFIRM))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Friday 27 November 2026 at 10:00" in page and "America/New_York" in page
    assert '<form method="post">' in page
    assert fresh(appointment).status == AppointmentStatus.BOOKED


def test_confirm_link_post_confirms_and_records_it_in_history(appointment):
    response = post_with_csrf(Client(enforce_csrf_checks=True), path_of(appointment, tokens.CONFIRM))
    assert response.status_code == 200
    assert "your session is confirmed" in response.content.decode()
    confirmed = fresh(appointment)
    assert (confirmed.status, confirmed.confirmed_at) == (AppointmentStatus.CONFIRMED, NOW)
    assert confirmed.history.filter(status=AppointmentStatus.CONFIRMED).exists()
    again = Client().get(path_of(appointment, tokens.CONFIRM))
    assert "Already confirmed" in again.content.decode()


def test_post_without_csrf_token_is_refused(appointment):
    response = Client(enforce_csrf_checks=True).post(path_of(appointment, tokens.CONFIRM))
    assert response.status_code == 403
    assert fresh(appointment).status == AppointmentStatus.BOOKED


def test_a_confirm_link_cannot_cancel(appointment):
    token = tokens.make_token(appointment=appointment, purpose=tokens.CONFIRM)
    response = Client().post(f"/r/cancel/{token}/")
    assert response.status_code == 410
    assert fresh(appointment).status == AppointmentStatus.BOOKED


def test_a_tampered_link_is_refused(appointment):
    path = path_of(appointment, tokens.CONFIRM)
    response = Client().get(path[:-3] + ("A" if path[-3] != "A" else "B") + "/")
    assert response.status_code == 410
    assert "not valid" in response.content.decode()


def test_a_link_expires_after_fourteen_days(clock):
    far_session = NOW + dt.timedelta(days=30)
    booked = make_appointment(starts_at=far_session)
    path = path_of(booked, tokens.CONFIRM)
    clock.shift(dt.timedelta(days=14, seconds=1))
    response = Client().get(path)
    assert response.status_code == 410
    assert "expired" in response.content.decode()


def test_a_link_stops_working_once_the_session_started(appointment, clock):
    path = path_of(appointment, tokens.CONFIRM)
    clock.move_to(SESSION)
    assert Client().get(path).status_code == 410


def test_a_link_from_before_a_move_no_longer_works(appointment):
    path = path_of(appointment, tokens.CANCEL)
    move(appointment, to=SESSION + dt.timedelta(days=1))
    response = Client().post(path)
    assert response.status_code == 410
    assert "moved" in response.content.decode()
    assert fresh(appointment).status == AppointmentStatus.BOOKED


def test_a_link_from_before_a_move_stays_dead_when_the_session_is_moved_back(appointment):
    path = path_of(appointment, tokens.CANCEL)
    away = move(appointment, to=SESSION + dt.timedelta(days=1))
    reminders_reschedule(appointment=away, now=NOW)
    back = move(away, to=SESSION)
    reminders_reschedule(appointment=back, now=NOW)
    response = Client().post(path)
    assert response.status_code == 410, "a link from before two moves acted on the session"
    assert "moved" in response.content.decode()
    assert fresh(appointment).status == AppointmentStatus.BOOKED


def test_cancel_link_post_cancels_stops_reminders_and_queues_a_notice(appointment):
    response = post_with_csrf(Client(enforce_csrf_checks=True), path_of(appointment, tokens.CANCEL))
    assert response.status_code == 200
    assert "Your session is cancelled" in response.content.decode()
    cancelled = fresh(appointment)
    assert (cancelled.status, cancelled.cancelled_at) == (AppointmentStatus.CANCELLED, NOW)
    assert "reminder link" in cancelled.cancellation_reason
    assert cancelled.history.filter(status=AppointmentStatus.CANCELLED).exists()
    reminders = Reminder.objects.filter(appointment=appointment, kind=ReminderKind.REMINDER)
    assert set(reminders.values_list("status", flat=True)) == {ReminderStatus.CANCELLED}
    assert Reminder.objects.filter(appointment=appointment, kind=ReminderKind.CANCELLATION).count() == 1


def test_cancel_inside_the_notice_period_says_to_call_the_clinic(appointment, clock):
    path = path_of(appointment, tokens.CANCEL)
    clock.move_to(SESSION - dt.timedelta(hours=23))  # policy: 24 h notice
    for response in (Client().get(path), Client().post(path)):
        page = response.content.decode()
        assert response.status_code == 200
        assert "Please call the clinic" in page and "+12025550143" in page
        assert "<form" not in page
    assert fresh(appointment).status == AppointmentStatus.BOOKED


def test_links_use_no_login_and_show_only_this_session(appointment, personas):
    # The token is the authority: a logged-in other patient gets the same page, about this session only.
    client = Client()
    client.force_login(personas.patient_b.user)
    response = client.get(path_of(appointment, tokens.CONFIRM))
    assert response.status_code == 200
    assert personas.patient_b.last_name not in response.content.decode()
