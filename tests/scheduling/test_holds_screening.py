"""Booking a hold (FHIR $book) is a booking: the patient's screening is read again then, as every
other booking path reads it (appointment_book, appointment_move). A flag recorded after the time was
held stops the booking as it stops any other, and the hold stays as it was."""

from __future__ import annotations

import datetime as dt

import pytest

from patients.models import Contraindication, PatientFlag
from scheduling import services
from scheduling.errors import NotEligible
from scheduling.models import AppointmentStatus
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

HELD_AT = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)  # Mon 2 March, 10:00 New York
UNTIL = NOW + dt.timedelta(minutes=10)


def _flag(patient, clinic) -> None:
    """A contraindication recorded for `patient` after the time was held."""
    rule = Contraindication.objects.create(label="Active psychosis", code="psychosis-held", kind="flag")
    PatientFlag.objects.create(patient=patient, contraindication=rule, recorded_by=clinic.prescriber.user)


def _hold(clinic, *, patient, plan=None):
    held = services.appointment_book(
        patient=patient,
        plan=plan,
        site=clinic.site,
        starts_at=HELD_AT,
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
        hold_until=UNTIL,
    )
    assert held.status == AppointmentStatus.HELD
    return held


def test_a_flag_recorded_after_a_courses_time_was_held_stops_its_booking_and_the_hold_stays(clinic):
    plan = clinic.plan()
    held = _hold(clinic, patient=plan.patient, plan=plan)
    _flag(plan.patient, clinic)

    with pytest.raises(NotEligible) as refused:
        services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)

    # The front desk is told as at any booking: a prescriber decides, the chart says why.
    assert refused.value.message == (
        "The patient's screening needs a prescriber's decision before this can be booked; "
        "a clinician can see why on the patient's chart."
    )
    held.refresh_from_db()
    assert held.status == AppointmentStatus.HELD and held.hold_expires_at == UNTIL
    assert not held.reminders.exists()


def test_a_held_time_is_booked_once_a_prescribers_override_covers_the_new_flag(clinic):
    plan = clinic.plan()
    held = _hold(clinic, patient=plan.patient, plan=plan)
    _flag(plan.patient, clinic)
    services.plan_override_eligibility(
        plan=plan, reason="Psychiatrist's letter on file", actor=clinic.prescriber.user, now=NOW
    )

    booked = services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)

    assert booked.status == AppointmentStatus.BOOKED


def test_a_flag_recorded_after_a_single_session_was_held_stops_its_booking_and_the_hold_stays(clinic):
    patient = PatientFactory(home_site=clinic.site)
    held = _hold(clinic, patient=patient)
    _flag(patient, clinic)

    with pytest.raises(NotEligible, match="prescriber's decision"):
        services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)

    held.refresh_from_db()
    assert held.status == AppointmentStatus.HELD and not held.reminders.exists()
