"""A FHIR hold is not a booking: the patient sees it nowhere (portal, its pages reached by id,
calendar feed, the API and the FHIR server with the patient's token), neither while held nor once
released unbooked (lapsed, or let go by the EHR): a hold's id answers as if it did not exist."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import appointment_cancel, holds_release_expired
from tests.interop.fhir_support import BASE, frozen, hold_first_proposal, world  # noqa: F401  (the fixtures)
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

LAPSED = NOW + dt.timedelta(minutes=11)
DURING_HOLD = NOW + dt.timedelta(minutes=1)


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


def test_the_patients_reschedule_page_does_not_open_a_time_held_by_the_ehr(world):  # noqa: F811
    """/me/reschedule/<id>/ with the id of a hold answers 404, as the portal's list and the
    patient's API do not show it."""
    _, hold_id = hold_first_proposal(world, world.patient_a)
    assert Appointment.objects.get(pk=hold_id).status == AppointmentStatus.HELD
    with time_machine.travel(DURING_HOLD, tick=False):
        page = _portal(world).get(f"/me/reschedule/{hold_id}/")
    assert page.status_code == 404, page.status_code


def test_a_patients_fhir_token_does_not_list_a_time_held_for_them(world):  # noqa: F811
    """GET Appointment with the patient's own token (patient/Appointment.rs) lists no hold."""
    _, hold_id = hold_first_proposal(world, world.patient_a)
    with time_machine.travel(DURING_HOLD, tick=False):
        response = world.client("patient_a").get(f"{BASE}Appointment")
    assert response.status_code == 200, response.content
    bundle = json.loads(response.content)
    ids = {entry["resource"]["id"] for entry in bundle.get("entry") or [] if "resource" in entry}
    assert str(hold_id) not in ids, ids


def test_a_patients_fhir_token_cannot_read_a_time_held_for_them(world):  # noqa: F811
    """GET Appointment/<hold id> with the patient's own token is not-found, as in the patient's API."""
    _, hold_id = hold_first_proposal(world, world.patient_a)
    with time_machine.travel(DURING_HOLD, tick=False):
        response = world.client("patient_a").get(f"{BASE}Appointment/{hold_id}")
    assert response.status_code == 404, response.content
