"""The start gate judges the readings as of the infusion's start when the administration is
recorded after the chair step was skipped: a reading taken during the infusion (still recorded as
"pre-infusion" while the session is checked in; ketamine raises blood pressure) does not hold a
start already made on normal readings. A high reading before the start still holds it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from clinical import services
from clinical.errors import StartHeld
from clinical.models import Administration
from scheduling.models import AppointmentStatus
from tests.clinical.conftest import SESSION_START, ward  # noqa: F401 - the fixture
from tests.clinical_helpers import record_pre_vitals

pytestmark = pytest.mark.django_db

STARTED = SESSION_START + dt.timedelta(minutes=5)
MID_INFUSION = SESSION_START + dt.timedelta(minutes=20)
ENDED = SESSION_START + dt.timedelta(minutes=45)


def test_a_reading_taken_after_the_infusion_began_does_not_refuse_its_administration(ward):  # noqa: F811
    # Normal readings before the start: the infusion could start at 10:05.
    record_pre_vitals(ward.session, ward.nurse.user, now=SESSION_START)
    # A reading during the infusion (the session is still checked in, so it is "pre").
    record_pre_vitals(ward.session, ward.nurse.user, now=MID_INFUSION, systolic=172, diastolic=96)
    try:
        services.administration_record(
            appointment=ward.session,
            route="iv",
            dose_mg_per_kg=Decimal("0.5"),
            weight_kg=Decimal("70"),
            total_mg=Decimal("35"),
            started_at=STARTED,
            ended_at=ENDED,
            lot_number="KX-1",
            given_by=ward.nurse,
            actor=ward.nurse.user,
            now=ENDED,
        )
    except StartHeld as exc:  # pragma: no cover - a failure
        pytest.fail(f"refused as a held start, though the start at 10:05 followed normal readings: {exc.message}")
    ward.session.refresh_from_db()
    assert ward.session.status == AppointmentStatus.IN_CHAIR
    assert ward.session.in_chair_at == STARTED
    assert Administration.objects.filter(appointment=ward.session).exists()


def test_a_high_reading_before_the_start_still_holds_the_administration(ward):  # noqa: F811
    record_pre_vitals(ward.session, ward.nurse.user, now=SESSION_START, systolic=172, diastolic=96)
    with pytest.raises(StartHeld):
        services.administration_record(
            appointment=ward.session,
            route="iv",
            dose_mg_per_kg=Decimal("0.5"),
            weight_kg=Decimal("70"),
            total_mg=Decimal("35"),
            started_at=STARTED,
            ended_at=ENDED,
            lot_number="KX-1",
            given_by=ward.nurse,
            actor=ward.nurse.user,
            now=ENDED,
        )
    ward.session.refresh_from_db()
    assert ward.session.status == AppointmentStatus.CHECKED_IN
    assert not Administration.objects.filter(appointment=ward.session).exists()
