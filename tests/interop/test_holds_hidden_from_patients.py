"""A FHIR hold is a few minutes' reservation by the EHR, not a booking: the patient sees it nowhere
(commit 448b1c1, scheduling.selectors.patient_appointments: "portal, calendar feed, the API with a
patient's token"). The portal's own pages reached by id, and the FHIR server with the patient's
own token, must follow the same rule: a hold's id answers as if it did not exist."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client

from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import BASE, frozen, hold_first_proposal, world  # noqa: F401  (the fixtures)
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

DURING_HOLD = NOW + dt.timedelta(minutes=1)


def _portal(world):  # noqa: F811
    client = Client()
    client.force_login(world.patient_a.user)
    return client


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
