"""A confirm or cancel sent again from the portal (a double click, a second tab, the back button)
is told what happened, as the reminder links do, not a made-up reason."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from scheduling.models import AppointmentStatus
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def _sent(client, appointment, action) -> list[str]:
    response = client.post(reverse("web:portal-action", args=[appointment.pk, action]))
    assert response.status_code == 302
    return [m.message for m in get_messages(response.wsgi_request)]


def test_confirming_again_a_session_two_weeks_away_does_not_say_it_is_less_than_24_hours_away(client, web):
    """A session two weeks away confirmed a second time is still confirmed; the patient must not be
    told it is "less than 24 hours to go" and asked to phone the clinic."""
    session = web.sessions_a[-1]
    login(client, web.patient_a.user)
    _sent(client, session, "confirm")
    session.refresh_from_db()
    assert session.status == AppointmentStatus.CONFIRMED

    again = _sent(client, session, "confirm")

    assert not any("less than 24 hours to go" in text for text in again), again


def test_cancelling_again_a_session_two_weeks_away_does_not_say_it_is_less_than_24_hours_away(client, web):
    """A session two weeks away the patient has just cancelled, cancelled again, is cancelled; the
    patient must not be told it is "less than 24 hours to go" and asked to phone the clinic."""
    session = web.sessions_a[-1]
    login(client, web.patient_a.user)
    _sent(client, session, "cancel")
    session.refresh_from_db()
    assert session.status == AppointmentStatus.CANCELLED

    again = _sent(client, session, "cancel")

    assert not any("less than 24 hours to go" in text for text in again), again
