"""Plan changes keep the rules around them: a maintenance re-plan keeps one infusion a day; a
replacement after a cancellation and maintenance after the induction wait for the screening (and
come once a prescriber's override covers it); maintenance follows the induction; a session of an
ended plan is not given."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.errors import DomainError
from patients.models import Contraindication, PatientFlag
from scheduling import services
from scheduling.models import BLOCKING_STATUSES, AppointmentStatus, Phase
from tests.clinical_helpers import complete_session
from tests.scheduling.conftest import NOW, START, at_new_york, into_maintenance, make_clinic, start_plus

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def _flag_psychosis(plan, clinic) -> None:
    psychosis = Contraindication.objects.create(code="psychosis", label="Active psychosis", kind="flag")
    PatientFlag.objects.create(patient=plan.patient, contraindication=psychosis, recorded_by=clinic.prescriber.user)


def test_a_maintenance_re_plan_never_puts_a_session_on_a_day_the_patient_already_has_an_infusion():
    """A patient never gets two infusions on one day, yet changing the maintenance interval lays a
    maintenance session out on a day the patient already has a (plan-less) session."""
    clinic = make_clinic()
    plan, booked = into_maintenance(clinic)
    now = booked[-1].ends_at
    last_day = booked[-1].starts_at.astimezone(NY).date()
    target = last_day + dt.timedelta(days=35)  # where the first 35-day maintenance session aims
    assert target.weekday() < 5
    # A single session (no plan) at 08:00 that day, booked by the desk before the change.
    services.appointment_book(
        patient=plan.patient,
        site=clinic.site,
        starts_at=dt.datetime.combine(target, dt.time(8), tzinfo=NY),
        chair=clinic.chairs[1],
        actor=clinic.front_desk.user,
        now=now,
    )

    services.plan_change_interval(
        plan=plan, days=35, reason="Relief lasts five weeks", actor=clinic.prescriber.user, now=now
    )

    days = [
        a.starts_at.astimezone(NY).date()
        for a in plan.appointments.filter(phase=Phase.MAINTENANCE, status__in=BLOCKING_STATUSES)
    ]
    assert target not in days, "a maintenance session was laid out on the day of the patient's other infusion"


def test_a_replacement_booked_after_a_cancellation_respects_the_screening():
    """A flag recorded since the course began stops every new booking until a prescriber's override
    covers it, yet cancelling a session with `rebook` books a replacement for the flagged patient."""
    clinic = make_clinic()
    plan = clinic.plan()
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    _flag_psychosis(plan, clinic)
    # Booking a session directly is refused now ...
    with pytest.raises(DomainError):
        services.appointment_book(
            patient=plan.patient,
            plan=plan,
            site=clinic.site,
            starts_at=booked[-1].starts_at + dt.timedelta(days=3),
            actor=clinic.front_desk.user,
            now=NOW,
        )

    # ... but the same booking slips through as a re-flow after a cancellation.
    try:
        outcome = services.appointment_cancel(
            appointment=booked[2], actor=clinic.front_desk.user, reason="Flu", now=NOW, rebook=True
        )
    except DomainError:
        outcome = None
    assert outcome is None or not outcome.rebooked, "a replacement was booked for a patient the screening stops"
    assert plan.appointments.filter(status__in=BLOCKING_STATUSES).count() <= 5


def test_completing_the_induction_books_no_maintenance_for_a_patient_the_screening_now_stops():
    """A flag recorded during the induction stops new bookings until a prescriber's override covers it,
    yet completing the last induction session books months of maintenance sessions for the patient."""
    clinic = make_clinic()
    plan = clinic.plan()
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    for session in booked[:-1]:
        complete_session(session)
    _flag_psychosis(plan, clinic)

    complete_session(booked[-1])

    maintenance = plan.appointments.filter(phase=Phase.MAINTENANCE, status__in=BLOCKING_STATUSES)
    assert not maintenance.exists(), f"{maintenance.count()} maintenance sessions booked despite the new flag"


def test_a_maintenance_session_cannot_be_booked_on_a_plan_whose_induction_never_happened():
    """Maintenance follows the induction, yet the desk can book a 'maintenance session' on a new
    (draft) plan with no induction at all, and the plan goes active on it."""
    clinic = make_clinic()
    plan = clinic.plan()
    with pytest.raises(DomainError):
        services.appointment_book(
            patient=plan.patient,
            plan=plan,
            site=clinic.site,
            starts_at=at_new_york(start_plus(1), 10),
            phase=Phase.MAINTENANCE,
            actor=clinic.front_desk.user,
            now=NOW,
        )
    assert not plan.appointments.exists()


def test_a_session_of_an_ended_plan_cannot_still_be_checked_in_and_given():
    """Ending a plan stops its infusions, yet a session whose start passed minutes before the end (the
    patient running late) stays booked on the ended plan and the desk can check it in."""
    clinic = make_clinic()
    plan = clinic.plan()
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    first = booked[0]
    ended_at = first.starts_at + dt.timedelta(minutes=5)
    services.plan_end(plan=plan, reason="Patient withdrew consent", actor=clinic.prescriber.user, now=ended_at)

    with pytest.raises(DomainError):
        services.appointment_check_in(
            appointment=first, actor=clinic.front_desk.user, now=ended_at + dt.timedelta(minutes=10)
        )
    first.refresh_from_db()
    assert first.status != AppointmentStatus.CHECKED_IN


def test_the_maintenance_the_screening_held_back_is_laid_out_once_a_prescriber_overrides_it():
    """Completing the induction of a flagged patient flags the plan and books no maintenance; the
    prescriber's override lays the maintenance out."""
    clinic = make_clinic()
    plan = clinic.plan()
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    for session in booked[:-1]:
        complete_session(session)
    _flag_psychosis(plan, clinic)
    complete_session(booked[-1])
    plan.refresh_from_db()
    assert plan.needs_attention and "screening needs a prescriber's decision" in plan.attention_reason
    maintenance = plan.appointments.filter(phase=Phase.MAINTENANCE, status__in=BLOCKING_STATUSES)
    assert not maintenance.exists()

    services.plan_override_eligibility(
        plan=plan, reason="Psychiatrist cleared: resolved", actor=clinic.prescriber.user, now=booked[-1].ends_at
    )
    assert maintenance.count() > 0


def test_a_cancellation_with_rebook_for_a_flagged_patient_cancels_and_says_why_nothing_was_rebooked():
    clinic = make_clinic()
    plan = clinic.plan()
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    _flag_psychosis(plan, clinic)
    outcome = services.appointment_cancel(
        appointment=booked[2], actor=clinic.front_desk.user, reason="Flu", now=NOW, rebook=True
    )
    assert outcome.appointment.status == AppointmentStatus.CANCELLED and not outcome.rebooked
    assert (
        outcome.plan_flagged and "Not rebooked: The patient's screening needs a prescriber's decision" in outcome.course
    )
    assert "psychosis" not in outcome.course.lower()  # the front desk is not told the reason


def test_a_plan_ended_releases_the_session_begun_a_moment_ago_the_patient_has_not_arrived_for():
    clinic = make_clinic()
    plan = clinic.plan()
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    ended_at = booked[0].starts_at + dt.timedelta(minutes=5)
    services.plan_end(plan=plan, reason="Patient withdrew consent", actor=clinic.prescriber.user, now=ended_at)
    booked[0].refresh_from_db()
    assert booked[0].status == AppointmentStatus.CANCELLED


def test_a_session_left_booked_on_a_paused_plan_is_refused_at_check_in_with_the_plans_state():
    """A pause releases the sessions not yet over; one already over but never marked (the patient
    came very late, or the desk forgot) stays booked. Checked in later that day, on a plan that no
    longer runs, it is refused, and the desk is told what to do, not given a generic refusal."""
    clinic = make_clinic()
    plan = clinic.plan()
    first = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)[0]
    paused_at = first.ends_at + dt.timedelta(minutes=5)
    services.plan_pause(plan=plan, reason="Travelling", actor=clinic.prescriber.user, now=paused_at)
    first.refresh_from_db()
    assert first.status == AppointmentStatus.BOOKED  # over before the pause: not released

    with pytest.raises(DomainError, match="The plan is paused; this session is not given"):
        services.appointment_check_in(
            appointment=first, actor=clinic.front_desk.user, now=paused_at + dt.timedelta(minutes=10)
        )
    first.refresh_from_db()
    assert first.status == AppointmentStatus.BOOKED
