"""A FHIR-style hold at a fixed time, for the hold tests (test_holds.py, test_lapsed_holds.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.services import appointment_book
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

AT = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
UNTIL = NOW + dt.timedelta(minutes=10)


@pytest.fixture
def several_setups_at_once(clinic):
    """The hold tests take several chairs at one minute with the clinic's one nurse; the setup rule
    (tests/scheduling/test_nurse_work.py) is not what they are about."""
    clinic.site.setups_per_nurse = 3
    clinic.site.save(update_fields=["setups_per_nurse"])


def book(clinic, *, now=NOW, patient=None, chair=None, starts_at=AT, hold_until=None):
    """A session at AT in the first chair with the first nurse, by the front desk; held until
    `hold_until` when it is given."""
    return appointment_book(
        patient=patient or PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=starts_at,
        actor=clinic.front_desk.user,
        now=now,
        chair=chair or clinic.chairs[0],
        nurse=clinic.nurses[0],
        hold_until=hold_until,
    )


def hold(clinic, patient=None, *, chair=None):
    """Held at NOW until UNTIL."""
    return book(clinic, patient=patient, chair=chair, hold_until=UNTIL)
