"""The patient's reschedule page lists only times that can really be taken."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from scheduling.models import AppointmentStatus
from scheduling.services import appointment_book
from tests.factories import PatientFactory
from tests.web.conftest import NOW, login

pytestmark = pytest.mark.django_db


def _times(response):
    return [slot for day in response.context["days"] for slot in day["times"]]


def test_a_time_every_chair_of_which_is_held_right_now_is_not_offered_to_the_patient(client, web):
    """A time whose every chair an outside system holds right now (a FHIR $hold, 10 minutes) is
    taken, so the patient's "change the time" page must not offer it (picking it only answers
    "the chair is already booked")."""
    last = web.sessions_a[-1]
    url = reverse("web:portal-reschedule", args=[last.pk])
    login(client, web.patient_a.user)
    before = client.get(url)
    target = _times(before)[-1]
    for chair in web.clinic.chairs:
        held = appointment_book(
            patient=PatientFactory(home_site=web.clinic.site),
            site=web.clinic.site,
            starts_at=target.start,
            chair=chair,
            actor=web.desk.user,
            now=NOW,
            hold_until=NOW + dt.timedelta(minutes=10),
        )
        assert held.status == AppointmentStatus.HELD

    after = client.get(url)

    assert after.status_code == 200
    offered = [slot.start for slot in _times(after)]
    moved = client.post(
        url,
        {
            "first_day": after.context["search"].data["first_day"],
            "last_day": after.context["search"].data["last_day"],
            "slot": f"{target.start.isoformat()}|{target.chair_id}",
        },
    )
    assert moved.status_code == 409  # the booking service knows the time is taken...
    assert target.start not in offered  # ...but the page offered it as free
