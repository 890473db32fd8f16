"""Recording the administration of a checked-in session takes the session's in-chair time from
the infusion's start as typed. When that start is corrected in the controlled-substance log, the
in-chair time follows it: otherwise the session shows the patient sitting down after the infusion
began, and the course's baseline (measures/selectors.py: answers count until in_chair_at) would
take a score given under the infusion as the pre-treatment baseline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from clinical import services as clinical
from clinical.models import ControlledSubstanceEntry
from measures.scoring import Instrument
from measures.selectors import outcome_summary
from scheduling import services
from tests.clinical_helpers import record_pre_vitals
from tests.measures.conftest import LATER, phq9, world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_correcting_the_infusions_start_moves_the_in_chair_time_it_was_taken_from(world):  # noqa: F811
    first = world.sessions_a[0]
    nurse = first.nurse.user
    start = first.starts_at
    services.appointment_check_in(appointment=first, actor=None, now=start)
    record_pre_vitals(first, nurse, now=start)
    mistyped = start + dt.timedelta(minutes=55)  # meant 10:05, typed 10:55
    really = start + dt.timedelta(minutes=5)
    ended = start + dt.timedelta(minutes=85)
    administration = clinical.administration_record(
        appointment=first,
        route=first.plan.protocol.route,
        dose_mg_per_kg=Decimal("0.5"),
        weight_kg=Decimal("70"),
        total_mg=Decimal("35"),
        started_at=mistyped,
        ended_at=ended,
        lot_number="LOT-1",
        given_by=nurse.staff,
        actor=nurse,
        now=ended,
        short_infusion_reason="stopped early: dissociation",
    )
    entry = ControlledSubstanceEntry.objects.filter(administration=administration).latest("pk")
    clinical.controlled_substance_correct(
        entry=entry, started_at=really, reason="start mistyped (10:55 for 10:05)", actor=nurse, now=ended
    )
    first.refresh_from_db()
    administration.refresh_from_db()
    assert administration.started_at == really
    # A score given during the infusion (10:30) is not the course's pre-treatment baseline.
    world.record(world.patient_a, "phq9", phq9(6), start + dt.timedelta(minutes=30), appointment=first)
    outcome = outcome_summary(patient=world.patient_a, now=LATER).outcomes.get(Instrument.PHQ9)
    baseline = outcome.baseline if outcome is not None else None
    assert baseline is None or baseline.completed_at <= really, (
        f"a score given at {baseline.completed_at:%H:%M} UTC, under the infusion begun at {really:%H:%M} UTC, "
        "is the course's pre-treatment baseline"
    )
    assert first.in_chair_at <= really, (
        f"in the chair at {first.in_chair_at:%H:%M} UTC, after the infusion began at {really:%H:%M} UTC"
    )
