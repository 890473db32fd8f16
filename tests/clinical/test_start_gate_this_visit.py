"""The start gate and readings taken at an earlier visit."""

from __future__ import annotations

import datetime as dt

import pytest

from clinical.errors import StartHeld
from scheduling import services as scheduling
from scheduling.models import AppointmentStatus
from tests.clinical.conftest import AT_CHAIR, SESSION_START
from tests.clinical_helpers import record_pre_vitals

pytestmark = pytest.mark.django_db
WEDNESDAY = SESSION_START + dt.timedelta(days=2)  # Wednesday 4 March 2026, 10:00 in New York


def test_vitals_from_a_visit_two_days_earlier_do_not_open_the_start_gate(ward):
    """Only readings taken since the session's check-in open the gate: a session checked in on
    Monday, its vitals taken, its check-in undone (the patient unwell) and moved to Wednesday, needs
    Wednesday's readings before it starts."""
    record_pre_vitals(ward.session, ward.nurse.user, now=AT_CHAIR)
    scheduling.appointment_undo_check_in(
        appointment=ward.session, actor=ward.front_desk.user, reason="Unwell today; moved", now=AT_CHAIR
    )
    moved = scheduling.appointment_move(
        appointment=ward.session,
        starts_at=WEDNESDAY,
        actor=ward.front_desk.user,
        now=AT_CHAIR + dt.timedelta(minutes=5),
    )
    assert moved.starts_at == WEDNESDAY
    scheduling.appointment_check_in(
        appointment=moved, actor=ward.front_desk.user, now=WEDNESDAY - dt.timedelta(minutes=10)
    )
    with pytest.raises(StartHeld):
        scheduling.appointment_start(appointment=moved, actor=ward.nurse.user, now=WEDNESDAY)
    moved.refresh_from_db()
    assert moved.status == AppointmentStatus.CHECKED_IN
