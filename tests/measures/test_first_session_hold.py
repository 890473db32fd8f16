"""An outside system's hold (FHIR $hold) on a course is not a session the patient had: it does not
start the course for the outcome figures, nor mark a session on the chart."""

from __future__ import annotations

import datetime as dt

import pytest

from measures.selectors import outcome_summary
from scheduling.models import AppointmentStatus
from tests.factories import AppointmentFactory
from tests.measures.conftest import LATER

pytestmark = pytest.mark.django_db


def test_a_hold_before_the_first_session_does_not_start_the_course(world):
    first = world.sessions_a[0]
    hold = AppointmentFactory(
        patient=world.patient_a,
        plan=world.plan_a,
        chair=world.clinic.chairs[-1],
        starts_at=first.starts_at - dt.timedelta(days=3),
        status=AppointmentStatus.HELD,
        hold_expires_at=first.starts_at - dt.timedelta(days=3, hours=1),
    )
    summary = outcome_summary(patient=world.patient_a, now=LATER)
    assert summary.first_session == first
    assert hold.starts_at not in summary.session_times
