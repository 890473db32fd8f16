"""Forged or odd input on patient-facing forms answers a clear 4xx, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from scheduling.models import Appointment
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def _client() -> Client:
    return Client(raise_request_exception=False)


def test_questionnaire_with_a_non_ascii_digit_appointment_id_is_a_404_not_a_500(web):
    client = _client()
    login(client, web.patient_a.user)
    # "²".isdigit() is True, int("²") raises ValueError.
    response = client.get(reverse("measures:questionnaire", args=["phq9"]) + "?appointment=%C2%B2")
    assert response.status_code == 404, response.status_code


def test_reschedule_with_a_forged_far_future_slot_is_refused_not_a_500(web):
    client = _client()
    last = web.sessions_a[-1]
    before = last.starts_at
    login(client, web.patient_a.user)
    url = reverse("web:portal-reschedule", args=[last.pk])
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(
        url,
        {
            "first_day": page.context["search"].data["first_day"],
            "last_day": page.context["search"].data["last_day"],
            "slot": f"9999-12-31T23:00:00-05:00|{web.clinic.chairs[0].pk}",
        },
    )
    assert response.status_code in (400, 409), response.status_code
    assert Appointment.objects.get(pk=last.pk).starts_at == before


def test_desk_move_with_a_forged_far_future_slot_is_refused_not_a_500(web):
    client = _client()
    last = web.sessions_a[-1]
    login(client, web.desk.user)
    url = reverse("web:move-session", args=[last.pk])
    response = client.post(
        url,
        {
            "first_day": "2026-03-09",
            "last_day": "2026-03-13",
            "slot": f"9999-12-31T23:00:00-05:00|{web.clinic.chairs[0].pk}",
        },
    )
    assert response.status_code in (400, 409), response.status_code
