"""Single sessions keep the protocol as courses do: the count, the weekly pattern, the gap and the day against all the patient's infusions, the chair time; a session whose ketamine was given is not cancelled or unchecked; a paused plan's session is not moved."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.errors import DomainError
from scheduling import services
from scheduling.errors import PlanRuleBroken
from scheduling.models import Appointment, AppointmentStatus, Phase
from tests.clinical_helpers import complete_session, record_session_for_completion
from tests.factories import ProtocolFactory
from tests.scheduling.conftest import NOW, at_new_york, make_clinic, start_plus

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def test_a_single_booking_cannot_add_a_seventh_induction_session():
    """Six sessions of a six-session protocol are booked; one more 'make-up' on the same round
    is booked without a word (plan_rule_violations never counts the round's sessions)."""
    clinic = make_clinic()
    plan = clinic.plan()
    # Mon, Wed, Fri, Mon, Wed, Fri: all six of the protocol.
    days = [start_plus(0), start_plus(2), start_plus(4), start_plus(7), start_plus(9), start_plus(11)]
    clinic.book(plan, [at_new_york(d, 10) for d in days])
    with pytest.raises(PlanRuleBroken):
        clinic.book(
            plan, [at_new_york(start_plus(14), 10)], phase=Phase.INDUCTION
        )  # Mon 16 Mar: inside 21 days, 72 h later


def test_a_single_booking_keeps_the_weekly_pattern():
    """3-2-1-1-1: week 1 has three sessions; a fourth booked one at a time is accepted."""
    clinic = make_clinic()
    plan = clinic.plan(protocol=ProtocolFactory(weekly=True))
    clinic.book(plan, [at_new_york(start_plus(0), 10), at_new_york(start_plus(1), 11), at_new_york(start_plus(2), 12)])
    with pytest.raises(PlanRuleBroken):
        clinic.book(plan, [at_new_york(start_plus(3), 13)])


def test_a_new_plans_first_session_keeps_the_gap_from_the_last_infusion_of_the_previous_plan():
    """The course path checks the patient's last infusion whatever plan it was on; booking the
    first session of a new plan one at a time does not (plan_rule_violations reads only the plan's own)."""
    clinic = make_clinic()
    old = clinic.plan()
    (held,) = clinic.book(old, [at_new_york(start_plus(0), 10)])
    complete_session(held)
    services.plan_end(plan=old, reason="Relapse: new plan", actor=clinic.prescriber.user, now=held.ends_at)
    new = clinic.plan(patient=old.patient, start_date=start_plus(1))
    with pytest.raises(PlanRuleBroken):
        # 24 hours after the last infusion; the protocol asks for 48.
        services.appointment_book(
            patient=new.patient,
            plan=new,
            site=clinic.site,
            starts_at=at_new_york(start_plus(1), 10),
            chair=clinic.chairs[0],
            actor=clinic.front_desk.user,
            now=held.ends_at,
        )


def test_a_course_session_is_not_booked_on_a_day_the_patient_already_has_an_infusion():
    """A one-off session (no plan) in the morning, then the plan's induction session the same afternoon."""
    clinic = make_clinic()
    plan = clinic.plan()
    services.appointment_book(
        patient=plan.patient,
        site=clinic.site,
        starts_at=at_new_york(start_plus(1), 8),
        chair=clinic.chairs[1],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    with pytest.raises(DomainError):
        clinic.book(plan, [at_new_york(start_plus(1), 14)])
    assert Appointment.objects.filter(patient=plan.patient).count() == 1


def test_a_checked_in_session_whose_ketamine_was_given_cannot_be_cancelled():
    """After the administration is in the controlled-substance log the session happened: cancelling
    it loses a held infusion from the course count (and tells the patient it was cancelled). Recording
    the administration put the session in the chair (the chair step skipped)."""
    clinic = make_clinic()
    plan = clinic.plan()
    (session,) = clinic.book(plan, [at_new_york(start_plus(0), 10)])
    services.appointment_check_in(appointment=session, actor=None, now=session.starts_at)
    record_session_for_completion(session)
    with pytest.raises(DomainError):
        services.appointment_cancel(
            appointment=session, actor=clinic.front_desk.user, reason="Wrong button", now=session.ends_at
        )
    session.refresh_from_db()
    assert session.status == AppointmentStatus.IN_CHAIR


def test_a_check_in_cannot_be_undone_after_the_ketamine_was_given():
    """A session that skipped the chair step is put in the chair by its administration, and a
    check-in is not undone once the patient was in the chair."""
    clinic = make_clinic()
    plan = clinic.plan()
    (session,) = clinic.book(plan, [at_new_york(start_plus(0), 10)])
    services.appointment_check_in(appointment=session, actor=None, now=session.starts_at)
    record_session_for_completion(session)
    with pytest.raises(DomainError):
        services.appointment_undo_check_in(
            appointment=session, actor=clinic.front_desk.user, reason="Mistake", now=session.ends_at
        )
    session.refresh_from_db()
    assert session.status == AppointmentStatus.IN_CHAIR


def test_a_session_of_a_paused_plan_cannot_be_moved_back_into_the_course():
    """Pausing releases only sessions that start after `now`: one whose start has just passed
    (the patient is late and calls in sick) stays booked, and appointment_move puts it next
    week on the paused plan, reminders and all; booking (and booking a hold) refuse a paused plan."""
    clinic = make_clinic()
    plan = clinic.plan()
    first, _ = clinic.book(plan, [at_new_york(start_plus(0), 10), at_new_york(start_plus(2), 10)])
    now = first.starts_at + dt.timedelta(minutes=20)
    services.plan_pause(plan=plan, reason="Influenza", actor=clinic.prescriber.user, now=now)
    with pytest.raises(DomainError):
        services.appointment_move(
            appointment=first, starts_at=at_new_york(start_plus(7), 10), actor=clinic.front_desk.user, now=now
        )
    first.refresh_from_db()
    assert first.starts_at == at_new_york(start_plus(0), 10)


def test_a_course_session_booked_alone_keeps_the_protocols_chair_time():
    """A course session takes the protocol's chair time (course booking refuses anything else);
    a single booking with a plan takes any `duration` (the API's duration_minutes), so a 120-minute
    infusion with monitoring is booked as 30 minutes and the chair is given to the next patient
    while this one is still recovering."""
    clinic = make_clinic()
    plan = clinic.plan()
    with pytest.raises(DomainError):
        clinic.book(plan, [at_new_york(start_plus(0), 10)], duration=dt.timedelta(minutes=30))
    assert not Appointment.objects.filter(plan=plan).exists()
