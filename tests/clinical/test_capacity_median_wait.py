"""The capacity page's wait figures."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinical.selectors import CapacityWindow, capacity_report
from scheduling.models import AppointmentStatus
from tests.clinical_helpers import record_administration
from tests.factories import AppointmentFactory, PatientFactory
from tests.scheduling.conftest import NOW, make_clinic

pytestmark = pytest.mark.django_db

WEDNESDAY = dt.date(2026, 3, 4)
NEW_YORK = ZoneInfo("America/New_York")


def _session_with_wait(clinic, chair, start: dt.datetime, wait_minutes: int) -> None:
    """A session checked in at `start` whose infusion began `wait_minutes` later."""
    session = AppointmentFactory(
        patient=PatientFactory(home_site=clinic.site),
        chair=chair,
        nurse=clinic.nurses[0],
        starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=start,
    )
    # The helper's infusion starts 5 minutes after the start it is given.
    record_administration(session, start=start + dt.timedelta(minutes=wait_minutes - 5))


def test_the_median_wait_of_two_sessions_is_their_middle():
    """Waits of 10 and 20 minutes have a median of 15, as the box plot beside the table draws it."""
    clinic = make_clinic(chairs=2)
    for chair, wait in zip(clinic.chairs, (10, 20), strict=False):
        _session_with_wait(clinic, chair, dt.datetime.combine(WEDNESDAY, dt.time(9), tzinfo=NEW_YORK), wait)

    report = capacity_report(site=clinic.site, windows=[CapacityWindow("Wednesday", WEDNESDAY, WEDNESDAY)], now=NOW)

    period = report.periods[0]
    assert sorted(period.waits_minutes) == [10.0, 20.0]
    assert period.waits_median == pytest.approx(15.0)
