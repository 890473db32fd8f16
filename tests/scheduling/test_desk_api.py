"""The API side of the front-desk fixes: check-in window and undo, cancel with an explicit rebook flag."""

from __future__ import annotations

import pytest
import time_machine
from rest_framework.test import APIClient

from scheduling import services
from scheduling.models import AppointmentStatus
from tests.factories import PatientFactory, UserFactory
from tests.scheduling.conftest import NOW, START

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


@pytest.fixture
def course(clinic):
    plan = clinic.plan()
    with time_machine.travel(NOW, tick=False):
        booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    return plan, booked


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_check_in_days_ahead_is_a_409_with_its_own_code(clinic, course):
    _plan, booked = course
    with time_machine.travel(NOW, tick=False):
        response = _client(clinic.front_desk.user).post(f"{V1}/appointments/{booked[3].pk}/check-in/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "check_in_not_open"


def test_api_undo_check_in_needs_a_reason_and_restores_the_status(clinic, course):
    _plan, booked = course
    first = booked[0]
    with time_machine.travel(first.starts_at, tick=False):
        client = _client(clinic.front_desk.user)
        assert client.post(f"{V1}/appointments/{first.pk}/check-in/").json()["status"] == "checked_in"
        assert client.post(f"{V1}/appointments/{first.pk}/undo-check-in/", {}, format="json").status_code == 400
        response = client.post(
            f"{V1}/appointments/{first.pk}/undo-check-in/", {"reason": "Wrong patient"}, format="json"
        )
    assert response.status_code == 200
    assert response.json()["status"] == "booked" and response.json()["checked_in_at"] is None


def test_api_cancel_without_rebook_reports_the_course_and_books_nothing(clinic, course):
    plan, booked = course
    with time_machine.travel(NOW, tick=False):
        response = _client(clinic.front_desk.user).post(
            f"{V1}/appointments/{booked[2].pk}/cancel/", {"reason": "Flu"}, format="json"
        )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["course_outcome"]["short_by"] == 1 and body["course_outcome"]["rebooked"] == []
    assert body["course_outcome"]["plan_flagged"] is True
    assert body["course_outcome"]["replacement_starts_at"]
    assert plan.appointments.filter(status="booked").count() == 5


def test_api_cancel_with_rebook_books_the_replacement(clinic, course):
    plan, booked = course
    with time_machine.travel(NOW, tick=False):
        response = _client(clinic.front_desk.user).post(
            f"{V1}/appointments/{booked[2].pk}/cancel/", {"reason": "Flu", "rebook": True}, format="json"
        )
    assert response.status_code == 200
    outcome = response.json()["course_outcome"]
    assert outcome["short_by"] == 0 and len(outcome["rebooked"]) == 1
    assert plan.appointments.filter(status="booked").count() == 6


def test_a_patient_cannot_ask_the_api_to_rebook_and_their_cancel_books_nothing(clinic):
    patient = PatientFactory(user=UserFactory(username="course_patient"), home_site=clinic.site)
    plan = clinic.plan(patient=patient)
    with time_machine.travel(NOW, tick=False):
        booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
        client = _client(patient.user)
        refused = client.post(f"{V1}/appointments/{booked[4].pk}/cancel/", {"rebook": True}, format="json")
        assert refused.status_code == 400
        done = client.post(f"{V1}/appointments/{booked[4].pk}/cancel/", {}, format="json")
    assert done.status_code == 200 and done.json()["course_outcome"]["rebooked"] == []
    assert plan.appointments.filter(status=AppointmentStatus.BOOKED).count() == 5
