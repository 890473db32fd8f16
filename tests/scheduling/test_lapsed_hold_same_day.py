"""A lapsed hold is free time before the sweep (docs/architecture.md, "How an EHR books through
FHIR"), for the rules too: the patient's own lapsed hold is not their infusion of the day ("never
two on one day", domain.md), so the desk books the patient later that day without waiting for
the beat sweep (rule_sessions reads holds with `now`)."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.models import AppointmentStatus
from tests.factories import PatientFactory
from tests.scheduling.holds_support import AT, UNTIL, book, hold, several_setups_at_once  # noqa: F401

LAPSED = UNTIL + dt.timedelta(seconds=30)  # before the next sweep
LATER_THAT_DAY = AT + dt.timedelta(hours=4)  # 14:00 in New York, same Monday
pytestmark = pytest.mark.usefixtures("several_setups_at_once")


def test_a_patients_lapsed_hold_is_not_their_session_of_the_day(clinic):
    patient = PatientFactory(home_site=clinic.site)
    hold(clinic, patient)
    booked = book(clinic, now=LAPSED, patient=patient, starts_at=LATER_THAT_DAY)
    assert booked.status == AppointmentStatus.BOOKED
