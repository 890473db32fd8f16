"""The free-slots API (scheduling/api/board.py) at a level-loading site."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from knox.models import AuthToken
from rest_framework.test import APIClient

from scheduling.services import appointment_book
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, make_clinic

DAY = dt.date(2026, 3, 3)  # a Tuesday


@pytest.mark.django_db
def test_the_suggested_slot_keeps_the_nurse_the_search_asked_for():
    clinic = make_clinic(placement_policy="level", chairs=2, nurses=2)
    asked, _other = clinic.nurses
    # The nurse asked for already has a session that day: the other nurse is less used.
    appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=dt.datetime.combine(DAY, dt.time(14), tzinfo=clinic.site.zone),
        chair=clinic.chairs[0],
        nurse=asked,
        actor=clinic.front_desk.user,
        now=NOW,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=clinic.front_desk.user)[1]}")
    with time_machine.travel(NOW, tick=False):
        response = client.get(
            f"/api/v1/sites/{clinic.site.pk}/free-slots/",
            {"start_date": DAY.isoformat(), "end_date": DAY.isoformat(), "duration_minutes": 120, "nurse": asked.pk},
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["slots"] and {slot["nurse"] for slot in body["slots"]} == {asked.pk}
    # "Of the slots listed, the one the site's placement policy would take."
    assert body["suggested"]["nurse"] == asked.pk, (
        f"suggested nurse {body['suggested']['nurse']}, but the search asked for nurse {asked.pk} only"
    )
