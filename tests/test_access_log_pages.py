"""The access log: pages that show one patient's data must name that
patient on their log row (clinic/audit.py patients_shown), as the chart does, so 'who looked at
this patient' can be answered from the log."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from clinic.models import AccessLog
from tests.factories import AppointmentFactory, ChairFactory, PlanFactory

pytestmark = pytest.mark.django_db

MONDAY = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(MONDAY, tick=False):
        yield


def _last_row(path_start: str) -> AccessLog:
    return AccessLog.objects.filter(path__startswith=path_start).order_by("-pk").first()


def test_the_booking_page_names_its_patient_in_the_access_log(client, personas, frozen):
    """docs/architecture.md ("Which patients") lists the booking page among the views that call
    patients_shown; web/booking.py book_session never does."""
    patient = personas.patient_a
    PlanFactory(patient=patient, site=personas.site)
    client.force_login(personas.front_desk.user)
    path = f"/patients/{patient.pk}/book-session/"
    response = client.get(path)
    assert response.status_code == 200
    assert patient.last_name in response.content.decode()
    assert _last_row(path).patient_ids == [patient.pk]


def test_the_move_page_names_its_patient_in_the_access_log(client, personas, frozen):
    patient = personas.patient_a
    appointment = AppointmentFactory(
        patient=patient, chair=ChairFactory(site=personas.site), starts_at=MONDAY + dt.timedelta(days=2)
    )
    client.force_login(personas.front_desk.user)
    path = f"/sessions/{appointment.pk}/move/"
    response = client.get(path)
    assert response.status_code == 200
    assert patient.last_name in response.content.decode()
    assert _last_row(path).patient_ids == [patient.pk]


def test_the_screening_page_names_its_patient_in_the_access_log(client, personas, frozen):
    """The plan's eligibility screen shows the patient's blood pressure, heart rate, flags and
    age (web/patients.py plan_screening) and logs no patient."""
    patient = personas.patient_a
    plan = PlanFactory(patient=patient, site=personas.site)
    client.force_login(personas.nurse.user)
    path = f"/plans/{plan.pk}/screening/"
    response = client.get(path)
    assert response.status_code == 200
    assert patient.last_name in response.content.decode()
    assert _last_row(path).patient_ids == [patient.pk]
