"""The portal's private calendar feed and .ics download: neutral titles, cancelled
sessions marked CANCELLED, and a feed URL the patient can rotate or turn off,
which also dies with the patient's login."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import HttpRequest
from django.urls import reverse
from icalendar import Calendar
from time_machine import travel

from scheduling.reminders.services import reminders_cancel, reminders_schedule
from tests.factories import PASSWORD, UserFactory
from tests.reminders.helpers import UTC, cancel, make_appointment

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def portal_urls(settings):
    # The reminders conftest mounts only the link views; the portal lives in config.urls.
    settings.ROOT_URLCONF = "config.urls"


@pytest.fixture
def frozen():
    with travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def booked(frozen):
    appointment = make_appointment(starts_at=SESSION)
    patient = appointment.patient
    patient.user = UserFactory(username="feedpatient")
    patient.save(update_fields=["user"])
    reminders_schedule(appointment=appointment, now=frozen)
    return appointment


def feed(client, token):
    return client.get(reverse("web:calendar-feed", args=[token]))


def events(response) -> list:
    return Calendar.from_ical(response.content).walk("VEVENT")


def log_in(client, patient) -> None:
    assert client.login(request=HttpRequest(), username=patient.user.username, password=PASSWORD)


def test_feed_titles_name_the_clinic_not_the_drug(client, booked):
    response = feed(client, booked.patient.calendar_token)
    assert response.status_code == 200
    [event] = events(response)
    assert str(event["summary"]) == f"Appointment at {booked.site.name}"
    assert b"ketamine" not in response.content.lower()


def test_a_cancelled_session_says_cancelled_in_the_feed_and_the_download_with_a_higher_sequence(client, booked, frozen):
    reminders_cancel(appointment=cancel(booked, now=frozen), now=frozen)
    [event] = events(feed(client, booked.patient.calendar_token))
    assert (str(event["status"]), int(event["sequence"])) == ("CANCELLED", 1)
    log_in(client, booked.patient)
    download = client.get(reverse("web:portal-ics", args=[booked.pk]))
    [event] = events(download)
    assert (str(event["status"]), int(event["sequence"])) == ("CANCELLED", 1)


def test_rotating_gives_a_new_address_and_the_old_one_stops_working(client, booked):
    old_token = booked.patient.calendar_token
    log_in(client, booked.patient)
    response = client.post(reverse("web:portal-calendar", args=["rotate"]))
    assert response.status_code == 302
    booked.patient.refresh_from_db()
    assert booked.patient.calendar_token and booked.patient.calendar_token != old_token
    assert feed(client, old_token).status_code == 404
    assert feed(client, booked.patient.calendar_token).status_code == 200
    assert booked.patient.calendar_token in client.get(reverse("home")).content.decode()


def test_revoking_turns_the_feed_off_until_the_patient_asks_for_a_new_address(client, booked):
    old_token = booked.patient.calendar_token
    log_in(client, booked.patient)
    client.post(reverse("web:portal-calendar", args=["revoke"]))
    booked.patient.refresh_from_db()
    assert booked.patient.calendar_token is None
    assert feed(client, old_token).status_code == 404
    page = client.get(reverse("home")).content.decode()
    assert "turned off" in page and old_token not in page
    client.post(reverse("web:portal-calendar", args=["rotate"]))
    booked.patient.refresh_from_db()
    assert feed(client, booked.patient.calendar_token).status_code == 200


def test_the_feed_stops_when_the_patients_login_is_deactivated(client, booked):
    token = booked.patient.calendar_token
    assert feed(client, token).status_code == 200
    booked.patient.user.is_active = False
    booked.patient.user.save(update_fields=["is_active"])
    assert feed(client, token).status_code == 404


def test_rotate_and_revoke_need_a_logged_in_patient_and_a_post(client, booked):
    token = booked.patient.calendar_token
    anonymous = client.post(reverse("web:portal-calendar", args=["revoke"]))
    assert anonymous.status_code == 302 and reverse("login") in anonymous["Location"]
    log_in(client, booked.patient)
    assert client.get(reverse("web:portal-calendar", args=["revoke"])).status_code == 405
    assert client.post(reverse("web:portal-calendar", args=["delete-everything"])).status_code == 404
    booked.patient.refresh_from_db()
    assert booked.patient.calendar_token == token
