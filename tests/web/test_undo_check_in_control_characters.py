"""The pages refuse control characters as the API does (clinic/form_fields.py
RefusesControlCharacters): the board's undo-check-in reason too, so an escape sequence never
reaches the session's history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from scheduling.models import AppointmentStatus
from tests.factories import AppointmentFactory, PatientFactory
from tests.night_clinic import UTC, login, make_night

ESCAPED = "Wrong patient\x1b[2J\x07"


@pytest.fixture
def night(db):
    return make_night()


def test_the_boards_undo_check_in_refuses_a_reason_with_control_characters(client, night):
    session = AppointmentFactory(
        patient=PatientFactory(home_site=night.site),
        chair=night.chairs[0],
        starts_at=dt.datetime(2026, 3, 2, 15, tzinfo=UTC),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=dt.datetime(2026, 3, 2, 14, 50, tzinfo=UTC),
    )
    login(client, night.desk.user)
    client.post(reverse("web:appointment-action", args=[session.pk, "undo-check-in"]), {"reason": ESCAPED})
    session.refresh_from_db()
    reasons = [row.history_change_reason or "" for row in session.history.all()]
    assert not any("\x1b" in reason for reason in reasons), reasons
    assert session.status == AppointmentStatus.CHECKED_IN
