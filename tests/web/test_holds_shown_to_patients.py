"""A FHIR hold is not a booking: the patient sees it nowhere (portal, calendar feed, the API with the
patient's token), neither while held nor once released unbooked (lapsed, or let go by the EHR)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import appointment_cancel, holds_release_expired
from tests.interop.fhir_support import frozen, hold_first_proposal, world  # noqa: F401  (the fixtures)
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

LAPSED = NOW + dt.timedelta(minutes=11)


def _portal(world):  # noqa: F811
    client = Client()
    client.force_login(world.patient_a.user)
    return client


def test_a_hold_the_ehr_released_shows_in_the_portal_as_a_cancelled_session(world):  # noqa: F811
    """A hold the EHR lets go before it lapses ($book with status cancelled) is not listed in the
    portal as a cancelled session."""
    _, hold_id = hold_first_proposal(world, world.patient_a)
    held = Appointment.objects.get(pk=hold_id)
    assert held.status == AppointmentStatus.HELD
    appointment_cancel(
        appointment=held,
        actor=world.clinic.front_desk.user,
        reason="Released by the EHR",
        now=NOW + dt.timedelta(minutes=2),
    )
    with time_machine.travel(NOW + dt.timedelta(minutes=3), tick=False):
        page = _portal(world).get("/")
    assert page.status_code == 200
    assert "Earlier and cancelled sessions" not in page.content.decode()


def test_a_released_hold_is_in_the_patients_calendar_feed(world):  # noqa: F811
    """Nor is it served to the patient's calendar as a cancelled event."""
    _, hold_id = hold_first_proposal(world, world.patient_a)
    appointment_cancel(
        appointment=Appointment.objects.get(pk=hold_id),
        actor=world.clinic.front_desk.user,
        reason="Released by the EHR",
        now=NOW + dt.timedelta(minutes=2),
    )
    world.patient_a.refresh_from_db()
    with time_machine.travel(NOW + dt.timedelta(minutes=3), tick=False):
        feed = Client().get(reverse("web:calendar-feed", args=[world.patient_a.calendar_token]))
    assert feed.status_code == 200
    assert b"BEGIN:VEVENT" not in feed.content


def _api_ids(world):  # noqa: F811
    response = _portal(world).get("/api/v1/appointments/")
    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    rows = body["results"] if isinstance(body, dict) else body
    return {row["id"] for row in rows}


def test_the_patients_api_lists_a_time_held_for_them(world):  # noqa: F811
    """The patient's own API list does not show a time held for them."""
    _, hold_id = hold_first_proposal(world, world.patient_a)
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        assert int(hold_id) not in _api_ids(world)


def test_the_patients_api_lists_a_lapsed_hold_as_a_cancelled_session(world):  # noqa: F811
    """Nor, once it lapsed, as a cancelled session."""
    _, hold_id = hold_first_proposal(world, world.patient_a)
    with time_machine.travel(LAPSED, tick=False):
        assert holds_release_expired(now=LAPSED) == 1
        assert int(hold_id) not in _api_ids(world)
