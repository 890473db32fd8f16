"""A FHIR hold is not a booking: the portal and the calendar feed show it neither while it is held
nor once it lapsed unbooked (the sweep cancels it as "Hold expired")."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from scheduling.services import holds_release_expired
from tests.interop.fhir_support import frozen, hold_first_proposal, world  # noqa: F401  (the fixtures)
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

LAPSED = NOW + dt.timedelta(minutes=11)


def test_a_lapsed_hold_is_not_shown_in_the_portal_as_a_cancelled_session(world):  # noqa: F811
    hold_first_proposal(world, world.patient_a)
    with time_machine.travel(LAPSED, tick=False):
        assert holds_release_expired(now=LAPSED) == 1
        client = Client()
        client.force_login(world.patient_a.user)
        page = client.get("/")
        assert page.status_code == 200
        assert "Earlier and cancelled sessions" not in page.content.decode()


def test_a_lapsed_hold_is_not_in_the_patients_calendar_feed(world):  # noqa: F811
    hold_first_proposal(world, world.patient_a)
    with time_machine.travel(LAPSED, tick=False):
        assert holds_release_expired(now=LAPSED) == 1
        world.patient_a.refresh_from_db()
        feed = Client().get(reverse("web:calendar-feed", args=[world.patient_a.calendar_token]))
        assert feed.status_code == 200
        assert b"BEGIN:VEVENT" not in feed.content
