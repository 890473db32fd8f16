"""One infusion a day holds on every path that places a session without a plan: booking, moving,
the waitlist's offers and the finder."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from clinic.errors import DomainError
from scheduling import services
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.waitlist import waitlist_add, waitlist_matches
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, START, at_new_york, make_clinic, start_plus

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def _single(clinic, patient, starts_at, chair):
    return services.appointment_book(
        patient=patient, site=clinic.site, starts_at=starts_at, chair=chair, actor=clinic.front_desk.user, now=NOW
    )


def test_moving_a_single_session_onto_a_day_with_another_infusion_is_refused_as_booking_it_is():
    """Booking a plan-less session on a day the patient already has an infusion is refused
    (same_day_violations); moving one there is not checked at all (appointment_move only checks
    a plan's rules), so the same two-a-day is reached by booking elsewhere and moving."""
    clinic = make_clinic()
    patient = PatientFactory(home_site=clinic.site)
    _single(clinic, patient, at_new_york(start_plus(1), 8), clinic.chairs[0])
    # The booking path refuses a second infusion that day ...
    with pytest.raises(DomainError):
        _single(clinic, patient, at_new_york(start_plus(1), 14), clinic.chairs[1])
    # ... the move path lets it through.
    other = _single(clinic, patient, at_new_york(start_plus(3), 14), clinic.chairs[1])
    with pytest.raises(DomainError):
        services.appointment_move(
            appointment=other, starts_at=at_new_york(start_plus(1), 14), actor=clinic.front_desk.user, now=NOW
        )
    other.refresh_from_db()
    assert other.starts_at == at_new_york(start_plus(3), 14)


def test_the_waitlist_does_not_offer_a_plan_less_patient_a_time_the_booking_then_refuses():
    """_suits checks the day only through a plan's rules: a waiting patient without a plan who
    already has an infusion that day is offered the freed chair, and accepting it is refused by
    appointment_book's new same-day check (OfferTaken). The offer should not be made."""
    clinic = make_clinic()
    with time_machine.travel(NOW, tick=False):
        other = PatientFactory(home_site=clinic.site)
        freed = _single(clinic, other, at_new_york(start_plus(1), 14), clinic.chairs[0])
        waiting = PatientFactory(home_site=clinic.site)
        _single(
            clinic, waiting, at_new_york(start_plus(1), 8), clinic.chairs[1]
        )  # the waiting patient's morning infusion
        waitlist_add(patient=waiting, site=clinic.site, earliest_date=START, actor=clinic.front_desk.user, now=NOW)
        services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
        freed.refresh_from_db()
        assert freed.status == AppointmentStatus.CANCELLED
        matches = waitlist_matches(freed=freed, now=NOW, offered_too=True)
    assert [e.patient_id for e in matches] == [], "offered a time its booking refuses (two infusions on one day)"
    assert Appointment.objects.filter(patient=waiting).count() == 1


def test_the_slot_finder_does_not_offer_a_plan_less_patient_times_the_booking_refuses():
    """For a patient without a plan the finder refuses, as booking does, every time on a day the
    patient already has an infusion, and suggests none."""
    from scheduling.services.slot_finder import find_free_slots, suggested

    clinic = make_clinic()
    patient = PatientFactory(home_site=clinic.site)
    _single(clinic, patient, at_new_york(start_plus(1), 8), clinic.chairs[0])
    days = find_free_slots(
        site=clinic.site,
        patient=patient,
        first_day=start_plus(1),
        last_day=start_plus(1),
        duration=dt.timedelta(minutes=120),
        route="iv",
        now=NOW,
    )
    listed = [c for d in days for c in d.choices]
    assert listed, "the free times are listed, each with why it is refused"
    assert all("already has a session" in " ".join(c.refused) for c in listed)
    assert suggested(days) is None
