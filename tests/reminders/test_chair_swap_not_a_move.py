"""Another chair or nurse at the same time is a change, not a move: no "moved" notice, the confirmation stays."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from scheduling import services
from scheduling.models import Reminder, ReminderKind, ReminderStatus
from tests.scheduling.conftest import NOW, START, make_clinic

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")


def test_a_chair_swap_at_the_same_time_does_not_tell_the_patient_the_session_moved():
    clinic = make_clinic()
    plan = clinic.plan()
    [session] = clinic.book(plan, [dt.datetime.combine(START, dt.time(10), tzinfo=NY)])
    services.appointment_move(
        appointment=session, starts_at=session.starts_at, chair=clinic.chairs[1], actor=clinic.front_desk.user, now=NOW
    )
    session.refresh_from_db()
    assert session.starts_at == dt.datetime.combine(START, dt.time(10), tzinfo=NY)  # same time, other chair
    notices = Reminder.objects.filter(appointment=session, kind=ReminderKind.CHANGE).exclude(
        status=ReminderStatus.CANCELLED
    )
    # The change notice says "Your session has been moved ... Links in earlier messages no longer work."
    assert not notices.exists(), "the patient is told the session moved although its time did not change"
