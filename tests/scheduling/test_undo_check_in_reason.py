"""Undoing a check-in from the board keeps the whole reason in the session's history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from scheduling.models import Appointment, AppointmentStatus
from tests.factories import AppointmentFactory, PatientFactory
from tests.night_clinic import UTC, login, make_night


@pytest.fixture
def night(db):
    return make_night()


REASON = (
    "Checked in the wrong Maria: this is Maria Lopez (born 1971), who is booked on Thursday; Maria Lopes "
    "(born 1990) has not arrived yet and her ride called to say they are stuck in traffic on the bridge"
)


def test_a_long_undo_reason_the_board_accepts_is_kept_whole(client, night):
    """The board's undo form takes a reason of up to 500 characters and says it "is kept in the
    session's history": the history row keeps all of it (history reasons are a text column)."""
    session = AppointmentFactory(
        patient=PatientFactory(home_site=night.site),
        chair=night.chairs[0],
        starts_at=dt.datetime(2026, 3, 2, 15, tzinfo=UTC),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=dt.datetime(2026, 3, 2, 14, 50, tzinfo=UTC),
    )
    login(client, night.desk.user)
    assert len(REASON) < 500
    response = client.post(reverse("web:appointment-action", args=[session.pk, "undo-check-in"]), {"reason": REASON})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == AppointmentStatus.BOOKED
    kept = [row.history_change_reason or "" for row in session.history.all()]
    kept += [str(value) for value in Appointment.objects.filter(pk=session.pk).values().get().values()]
    assert any(REASON in text for text in kept), f"only kept: {session.history.first().history_change_reason!r}"
