"""Clinical's release gate: a checked-in session whose dose is recorded is not cancelled or
unchecked, and the refusal's advice (complete the session) is one that works: no correction removes
an Administration, so it does not send the desk to one."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.errors import DomainError
from scheduling import services
from scheduling.models import Appointment, AppointmentStatus
from tests.clinical_helpers import record_session_for_completion
from tests.scheduling.conftest import START, make_clinic

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def test_the_release_gate_refuses_and_its_advice_is_one_that_works():
    clinic = make_clinic()
    plan = clinic.plan()
    (session,) = clinic.book(plan, [dt.datetime.combine(START, dt.time(10), tzinfo=NY)])
    services.appointment_check_in(appointment=session, actor=None, now=session.starts_at)
    record_session_for_completion(session)
    # Recording the administration now puts the session in the chair; one recorded before it did
    # stayed checked in with its dose given, which is what the gate is for.
    Appointment.objects.filter(pk=session.pk).update(status=AppointmentStatus.CHECKED_IN, in_chair_at=None)
    with pytest.raises(DomainError) as refused:
        services.appointment_undo_check_in(
            appointment=session, actor=clinic.front_desk.user, reason="Wrong patient", now=session.ends_at
        )
    # The advice it gives is one that works: complete the session (its record is whole).
    assert "Complete the session" in refused.value.message
    assert "correct" not in refused.value.message
    services.appointment_complete(appointment=session, actor=None, now=session.ends_at)
    session.refresh_from_db()
    assert session.status == AppointmentStatus.COMPLETED
