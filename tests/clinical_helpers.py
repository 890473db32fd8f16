"""Record a whole, unremarkable session so tests about scheduling can complete it.

Since the clinical-safety gates, a session completes only with its clinical record:
normal pre-infusion vitals, the administration (which writes the controlled-substance
log), recovery vitals and a discharge with a driver. Tests that are about something else
call `record_session_for_completion` between check-in and completion."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from clinical import services as clinical
from clinical.models import VitalsPhase
from scheduling.models import Appointment


def record_pre_vitals(
    appointment: Appointment,
    user,
    *,
    now: dt.datetime | None = None,
    systolic: int = 124,
    diastolic: int = 78,
    heart_rate: int = 72,
    spo2: int = 98,
):
    return clinical.vitals_record(
        appointment=appointment,
        phase=VitalsPhase.PRE,
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        actor=user,
        now=now or appointment.starts_at,
    )


def record_recovery_vitals(
    appointment: Appointment,
    user,
    *,
    now: dt.datetime,
    systolic: int = 126,
    diastolic: int = 80,
    heart_rate: int = 74,
    spo2: int = 98,
):
    """A recovery (post-infusion) reading, normal unless told: the discharge follows one."""
    return clinical.vitals_record(
        appointment=appointment,
        phase=VitalsPhase.RECOVERY,
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        actor=user,
        now=now,
    )


def record_administration(appointment: Appointment, nurse_user=None, *, start: dt.datetime | None = None):
    """Normal vitals, then 0.5 mg/kg IV from 5 to 45 minutes after `start` (the session's start by
    default), given by `nurse_user` (the session's nurse by default). Returns the Administration."""
    user = nurse_user or appointment.nurse.user
    start = start or appointment.starts_at
    record_pre_vitals(appointment, user, now=start)
    return clinical.administration_record(
        appointment=appointment,
        route="iv",
        dose_mg_per_kg=Decimal("0.5"),
        weight_kg=Decimal("70"),
        total_mg=Decimal("35"),
        started_at=start + dt.timedelta(minutes=5),
        ended_at=start + dt.timedelta(minutes=45),
        lot_number="LOT-TEST-1",
        given_by=user.staff,
        actor=user,
        now=start + dt.timedelta(minutes=45),
    )


def record_session_for_completion(appointment: Appointment, nurse_user=None) -> None:
    """Normal vitals before and after, 0.5 mg/kg IV over 40 minutes, discharged with a driver.

    `nurse_user` defaults to the session's nurse; the records are timed inside the session
    so that completing it at `ends_at` (as the scheduling tests do) is consistent."""
    user = nurse_user or appointment.nurse.user
    start = appointment.starts_at
    record_administration(appointment, user)
    record_recovery_vitals(appointment, user, now=start + dt.timedelta(minutes=80))
    clinical.recovery_record(
        appointment=appointment,
        side_effects=[],
        discharged_at=start + dt.timedelta(minutes=90),
        driver_name="Chris (partner)",
        actor=user,
        now=start + dt.timedelta(minutes=90),
    )


def complete_session(appointment: Appointment) -> None:
    """Check the session in at its start, record it whole and complete it at its end."""
    from scheduling import services

    services.appointment_check_in(appointment=appointment, actor=None, now=appointment.starts_at)
    record_session_for_completion(appointment)
    services.appointment_complete(appointment=appointment, actor=None, now=appointment.ends_at)
    appointment.refresh_from_db()
