"""$book with an existing appointment sent back unchanged (e.g. only to add a comment) is not a move."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from scheduling import services
from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import BASE, FHIR_JSON, parameters, parse
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db


def _booked(world):
    """Patient A's session on Tue 3 March, 10:00 in New York, chair 1."""
    return services.appointment_book(
        patient=world.patient_a,
        site=world.clinic.site,
        starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
        actor=world.clinic.front_desk.user,
        now=NOW,
        chair=world.clinic.chairs[0],
    )


def test_book_with_an_unchanged_confirmed_appointment_does_not_move_or_unconfirm_it(world):
    clinic = world.clinic
    booked = _booked(world)
    services.appointment_confirm(appointment=booked, actor=clinic.front_desk.user, now=NOW)
    history_before = Appointment.history.filter(id=booked.pk).count()

    desk = world.client("front_desk")
    as_read = parse(desk.get(BASE + f"Appointment/{booked.pk}"))
    assert as_read.status == "booked"
    # The EHR sends the appointment back exactly as it read it, with a comment for the desk.
    body = parameters(
        ("appointment-resource", "resource", json.loads(as_read.model_dump_json())),
        ("comment", "valueString", "Patient will bring a driver"),
    )
    response = desk.post(BASE + "Appointment/$book", body, content_type=FHIR_JSON)
    assert response.status_code == 200, response.content

    row = Appointment.objects.get(pk=booked.pk)
    # Nothing about the time changed: the confirmation stands and no "Moved from ..." entry is written.
    assert row.status == AppointmentStatus.CONFIRMED, row.status
    assert row.confirmed_at is not None
    reasons = list(
        Appointment.history.filter(id=booked.pk)
        .order_by("history_date")[history_before:]
        .values_list("history_change_reason", flat=True)
    )
    assert not any((r or "").startswith("Moved") for r in reasons), reasons


def test_book_with_a_cancelled_appointment_sent_back_unchanged_is_refused_not_a_quiet_200(world):
    clinic = world.clinic
    booked = _booked(world)
    desk = world.client("front_desk")
    as_read = json.loads(parse(desk.get(BASE + f"Appointment/{booked.pk}")).model_dump_json())
    services.appointment_cancel(appointment=booked, actor=clinic.front_desk.user, reason="Flu", now=NOW)

    body = parameters(("appointment-resource", "resource", as_read))
    response = desk.post(BASE + "Appointment/$book", body, content_type=FHIR_JSON)

    assert response.status_code == 409, response.content
    assert Appointment.objects.get(pk=booked.pk).status == AppointmentStatus.CANCELLED
