"""The waitlist offers a freed chair only to patients whose plan lets them be booked there."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduling import services
from scheduling.models import Appointment, AppointmentStatus, PlanStatus, WaitlistOffer
from scheduling.services.waitlist import waitlist_add, waitlist_offer_accept
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

# Tuesday 3 March 2026, 10:00 in New York.
FREED_AT = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)
# Monday 2 March 2026, 10:00 in New York: 24 hours before the freed chair.
DAY_BEFORE = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
# Friday 6 March 2026, 10:00 in New York.
FRIDAY = dt.datetime(2026, 3, 6, 15, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=True):
        yield


def _freed(clinic):
    return services.appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=FREED_AT,
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )


def _add(clinic, patient):
    return waitlist_add(
        patient=patient,
        site=clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        actor=clinic.front_desk.user,
        now=NOW,
        notify_patient=False,
    )


def _cancel(clinic, freed, captured):
    with captured(execute=True):
        services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)


def test_a_plan_started_after_the_patient_joined_the_waitlist_keeps_its_gap_between_infusions(
    clinic, django_capture_on_commit_callbacks
):
    """A course started after the patient joined the waitlist decides what suits them: no chair 24 hours
    after the course's first infusion (the protocol wants 48), and what is accepted belongs to the course."""
    freed = _freed(clinic)
    patient = PatientFactory(home_site=clinic.site)
    entry = _add(clinic, patient)  # a new patient waiting for an earlier start; no plan yet
    plan = clinic.plan(patient=patient)
    services.appointment_book(
        patient=patient,
        plan=plan,
        site=clinic.site,
        starts_at=DAY_BEFORE,
        chair=clinic.chairs[1],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    _cancel(clinic, freed, django_capture_on_commit_callbacks)

    offers = list(WaitlistOffer.objects.filter(entry=entry))
    if offers:
        booked = waitlist_offer_accept(offer=offers[0], actor=None, now=NOW)
        pytest.fail(
            f"offered and booked an infusion {booked.starts_at - DAY_BEFORE} after the course's last one "
            f"(protocol gap {plan.protocol.min_gap_hours} h), outside the plan (plan_id={booked.plan_id})"
        )


def test_a_patient_whose_course_is_paused_when_added_is_not_booked_from_the_waitlist(
    clinic, django_capture_on_commit_callbacks
):
    """A patient whose course is paused when they join the waitlist is not offered a chair (the
    clinician decides when sessions start again)."""
    freed = _freed(clinic)
    plan = clinic.plan()
    services.appointment_book(
        patient=plan.patient,
        plan=plan,
        site=clinic.site,
        starts_at=FRIDAY,
        chair=clinic.chairs[1],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    services.plan_pause(plan=plan, reason="Travelling", actor=clinic.prescriber.user, now=NOW)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAUSED
    entry = _add(clinic, plan.patient)
    _cancel(clinic, freed, django_capture_on_commit_callbacks)

    offers = list(WaitlistOffer.objects.filter(entry=entry))
    if offers:
        waitlist_offer_accept(offer=offers[0], actor=None, now=NOW)
    booked = Appointment.objects.filter(patient=plan.patient, starts_at=FREED_AT, status=AppointmentStatus.BOOKED)
    assert not booked.exists(), "an infusion was booked from the waitlist while the patient's course is paused"


def test_a_draft_plan_whose_screening_does_not_allow_booking_is_not_offered_the_chair(
    clinic, django_capture_on_commit_callbacks
):
    """A course not yet started whose screening does not allow booking (no evaluation on file, no
    override) is not offered the chair: accepting could only fail."""
    freed = _freed(clinic)
    patient = PatientFactory(home_site=clinic.site, evaluation=None)
    plan = clinic.plan(patient=patient)
    assert plan.status == PlanStatus.DRAFT
    entry = _add(clinic, patient)
    assert entry.plan_id == plan.pk
    _cancel(clinic, freed, django_capture_on_commit_callbacks)

    offers = list(WaitlistOffer.objects.filter(entry=entry))
    if offers:
        try:
            waitlist_offer_accept(offer=offers[0], actor=None, now=NOW)
        except Exception as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        else:
            outcome = "booked"
        pytest.fail(f"a chair was offered to a patient whose screening does not allow booking; accepting it: {outcome}")
