"""Booking services on PostgreSQL: whole courses, single sessions, moves, cancels,
re-flow, and clinicians adjusting plans."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from clinic.models import Closure, Role
from patients.models import Contraindication, Patient
from scheduling import services
from scheduling.errors import (
    BookingConflict,
    CourseDoesNotFit,
    InvalidInput,
    InvalidState,
    NotEligible,
    PlanRuleBroken,
    StaleVersion,
)
from scheduling.models import (
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    Phase,
    PlanStatus,
    Reminder,
    TreatmentPlan,
)
from scheduling.services.courses import ProposedSession
from tests.clinical_helpers import record_session_for_completion
from tests.factories import ChairFactory, PatientFactory, SiteFactory, StaffFactory
from tests.scheduling.conftest import NOW, START, add_shifts, make_clinic

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def _book_course(clinic, plan=None, start=START):
    plan = plan or clinic.plan()
    proposal = services.course_propose(plan=plan, start_date=start, now=NOW)
    return plan, services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, sessions=proposal.sessions)


def test_a_whole_induction_course_is_booked_in_one_step(clinic):
    plan, booked = _book_course(clinic)
    assert [a.sequence for a in booked] == [1, 2, 3, 4, 5, 6]
    local_days = [a.starts_at.astimezone(NY).date() for a in booked]
    assert len(set(local_days)) == 6
    assert (local_days[-1] - local_days[0]).days < 21
    assert all(b.starts_at - a.starts_at >= dt.timedelta(hours=48) for a, b in itertools.pairwise(booked))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    assert Reminder.objects.filter(appointment__plan=plan, kind="reminder").exists()


def test_a_failed_series_booking_books_nothing(clinic):
    plan = clinic.plan()
    proposal = services.course_propose(plan=plan, start_date=START, now=NOW)
    # Someone else takes every chair at the time of the fifth session after the proposal was shown.
    fifth = proposal.sessions[4]
    clinic.site.setups_per_nurse = len(clinic.chairs)  # one nurse sets up every chair at once here
    clinic.site.save(update_fields=["setups_per_nurse"])
    for chair in clinic.chairs:
        services.appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=fifth.starts_at,
            chair=chair,
            actor=clinic.front_desk.user,
            now=NOW,
        )
    with pytest.raises(BookingConflict) as caught:
        services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, sessions=proposal.sessions)
    assert "chair is already booked" in caught.value.message
    assert not Appointment.objects.filter(plan=plan).exists()
    assert not Reminder.objects.filter(appointment__plan=plan).exists()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT


def test_conflict_message_names_no_other_patient(clinic):
    other = PatientFactory(home_site=clinic.site, first_name="Zebulon", last_name="Quartermaine")
    start = dt.datetime(2026, 3, 3, 14, tzinfo=dt.UTC)
    services.appointment_book(
        patient=other, site=clinic.site, starts_at=start, chair=clinic.chairs[0], actor=None, now=NOW
    )
    with pytest.raises(BookingConflict) as caught:
        services.appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=start + dt.timedelta(minutes=30),
            chair=clinic.chairs[0],
            actor=None,
            now=NOW,
        )
    text = caught.value.message + str(caught.value.details)
    assert "Zebulon" not in text and "Quartermaine" not in text
    assert "chair" in text


def test_when_no_course_fits_the_reason_and_alternatives_are_given_and_nothing_is_written(clinic):
    # Closed for the second and third week: six sessions cannot fit in 21 days from 2 March.
    Closure.objects.create(
        site=clinic.site,
        reason="Renovation",
        starts_at=dt.datetime(2026, 3, 9, tzinfo=NY),
        ends_at=dt.datetime(2026, 3, 21, tzinfo=NY),
    )
    plan = clinic.plan()
    with pytest.raises(CourseDoesNotFit) as caught:
        services.course_propose(plan=plan, start_date=START, now=NOW)
    error = caught.value
    assert "of 6 sessions fit within 21 days" in error.message
    assert any("Renovation" in day for day in error.details["days"])
    labels = [alt["label"] for alt in error.details["alternatives"]]
    assert labels and all(len(alt["sessions"]) == 6 for alt in error.details["alternatives"])
    assert any(label.startswith("Start") for label in labels)
    assert not Appointment.objects.exists()
    # An alternative is booked as it is offered.
    offered = error.details["alternatives"][0]["sessions"]
    booked = services.course_book(
        plan=plan,
        actor=clinic.front_desk.user,
        now=NOW,
        sessions=[ProposedSession.from_alternative(session) for session in offered],
    )
    assert [a.starts_at.isoformat().replace("+00:00", "Z") for a in booked] == [s["starts_at"] for s in offered]


def test_a_client_adjusted_course_that_breaks_the_protocol_is_refused(clinic):
    plan = clinic.plan()
    proposal = services.course_propose(plan=plan, start_date=START, now=NOW)
    second = proposal.sessions[1]
    squeezed = ProposedSession(
        **{
            **second.__dict__,
            "starts_at": proposal.sessions[0].starts_at + dt.timedelta(hours=24),
            "ends_at": proposal.sessions[0].ends_at + dt.timedelta(hours=24),
        }
    )
    sessions = [proposal.sessions[0], squeezed, *proposal.sessions[2:]]
    with pytest.raises(PlanRuleBroken) as caught:
        services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, sessions=sessions)
    assert any("less than 48 hours" in v for v in caught.value.violations)
    assert not Appointment.objects.exists()


def test_the_weekly_protocol_books_three_two_one_one_one(db):
    from tests.factories import ProtocolFactory

    clinic = make_clinic()
    plan = clinic.plan(protocol=ProtocolFactory(weekly=True))
    _, booked = _book_course(clinic, plan=plan)
    first = booked[0].starts_at.astimezone(NY).date()
    weeks = [((a.starts_at.astimezone(NY).date() - first).days // 7) for a in booked]
    assert [weeks.count(w) for w in range(5)] == [3, 2, 1, 1, 1]


def test_moving_a_session_too_close_to_its_neighbour_is_explained_and_a_clinician_may_accept_it(clinic):
    _plan, booked = _book_course(clinic)
    target = booked[1].starts_at - dt.timedelta(hours=24)
    with pytest.raises(PlanRuleBroken) as caught:
        services.appointment_move(appointment=booked[1], starts_at=target, actor=clinic.front_desk.user, now=NOW)
    assert caught.value.details["can_override"] is False
    assert any("less than 48 hours from session 1" in v for v in caught.value.violations)
    moved = services.appointment_move(
        appointment=booked[1],
        starts_at=target,
        actor=clinic.prescriber.user,
        now=NOW,
        override_reason="Patient travels on Thursday; clinically acceptable",
    )
    assert moved.starts_at == target
    assert moved.rule_override_reason.startswith("Patient travels")
    assert moved.history.first().history_change_reason.startswith("Moved from")
    assert moved.history.first().history_user == clinic.prescriber.user


def test_moving_reschedules_reminders_and_needs_confirming_again(clinic):
    _plan, booked = _book_course(clinic)
    session = booked[5]
    services.appointment_confirm(appointment=session, actor=None, now=NOW)
    new_start = session.starts_at + dt.timedelta(hours=2)
    moved = services.appointment_move(appointment=session, starts_at=new_start, actor=clinic.front_desk.user, now=NOW)
    assert moved.status == AppointmentStatus.BOOKED
    pending = Reminder.objects.filter(appointment=moved, kind="reminder", status="pending")
    assert pending.exists() and all(r.session_starts_at == new_start for r in pending)


def test_a_move_to_a_new_time_is_refused_while_the_screening_stops_booking_but_a_chair_change_is_not(clinic):
    _plan, booked = _book_course(clinic)
    session = booked[5]
    Contraindication.objects.create(
        code="seizure-history-x", label="History of seizures", kind=Contraindication.Kind.SEIZURE_HISTORY
    )
    Patient.objects.filter(pk=session.patient_id).update(seizure_history=True)
    later = session.starts_at + dt.timedelta(hours=2)
    with pytest.raises(NotEligible, match="needs a prescriber's decision"):
        services.appointment_move(appointment=session, starts_at=later, actor=clinic.front_desk.user, now=NOW)
    with pytest.raises(NotEligible, match="History of seizures"):
        services.appointment_move(appointment=session, starts_at=later, actor=clinic.prescriber.user, now=NOW)
    session.refresh_from_db()
    assert session.starts_at == booked[5].starts_at, "moved to a new time that booking refuses"
    other_chair = next(c for c in clinic.chairs if c.pk != session.chair_id)
    changed = services.appointment_move(
        appointment=session, starts_at=session.starts_at, chair=other_chair, actor=clinic.front_desk.user, now=NOW
    )
    assert changed.chair_id == other_chair.pk


def _course_state(plan):
    return sorted((a.pk, a.starts_at, a.chair_id, a.nurse_id, a.status, a.sequence) for a in plan.appointments.all())


def test_cancelling_frees_the_chair_at_once_and_rebooks_nothing_unless_asked(clinic):
    plan, booked = _book_course(clinic)
    third = booked[2]
    before = {row[0]: row for row in _course_state(plan) if row[0] != third.pk}
    outcome = services.appointment_cancel(appointment=third, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    assert outcome.appointment.status == AppointmentStatus.CANCELLED
    assert outcome.rebooked == [] and outcome.short_by == 1
    assert outcome.course.startswith("Induction now short by 1 session; the first replacement that fits is ")
    # Nothing else in the course moved, and nothing was added.
    after = {row[0]: row for row in _course_state(plan) if row[0] != third.pk}
    assert set(after) == set(before)
    assert all(after[pk][1:5] == before[pk][1:5] for pk in before)
    plan.refresh_from_db()
    assert plan.needs_attention and "was cancelled" in plan.attention_reason
    # The chair is free again: another patient can take exactly that time.
    services.appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=third.starts_at,
        chair=third.chair,
        actor=None,
        now=NOW,
    )
    assert Reminder.objects.filter(appointment=third, kind="reminder").exclude(status="cancelled").count() == 0


def test_cancel_and_rebook_books_the_replacement_inside_the_window_and_moves_nothing_else(clinic):
    plan, booked = _book_course(clinic)
    third = booked[2]
    before = {row[0]: row for row in _course_state(plan) if row[0] != third.pk}
    outcome = services.appointment_cancel(
        appointment=third, actor=clinic.front_desk.user, reason="Flu", now=NOW, rebook=True
    )
    assert len(outcome.rebooked) == 1 and outcome.short_by == 0 and not outcome.plan_flagged
    assert outcome.course.startswith("Replacement booked: ")
    after = {row[0]: row for row in _course_state(plan) if row[0] not in (third.pk, outcome.rebooked[0].pk)}
    assert set(after) == set(before)
    assert all(after[pk][1:5] == before[pk][1:5] for pk in before)
    active = list(plan.appointments.filter(status="booked").order_by("starts_at"))
    assert len(active) == 6
    assert [a.sequence for a in active] == [1, 2, 3, 4, 5, 6]
    days = [a.starts_at.astimezone(NY).date() for a in active]
    assert (days[-1] - booked[0].starts_at.astimezone(NY).date()).days < 21
    plan.refresh_from_db()
    assert not plan.needs_attention


def test_cancelling_a_maintenance_or_single_session_changes_nothing_else_and_flags_nothing(clinic):
    single = services.appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
        actor=None,
        now=NOW,
    )
    outcome = services.appointment_cancel(appointment=single, actor=None, reason="Changed mind", now=NOW)
    assert outcome.short_by == 0 and not outcome.plan_flagged and outcome.rebooked == []


def test_a_missed_session_that_cannot_be_reflowed_flags_the_plan(clinic):
    plan, booked = _book_course(clinic)
    last_day = booked[0].starts_at.astimezone(NY).date() + dt.timedelta(days=20)
    Closure.objects.create(
        site=clinic.site,
        reason="Staff training",
        starts_at=booked[5].ends_at,
        ends_at=dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=NY),
    )
    after = booked[4].starts_at + dt.timedelta(hours=3)
    outcome = services.appointment_mark_no_show(appointment=booked[4], actor=clinic.front_desk.user, now=after)
    plan.refresh_from_db()
    assert plan.needs_attention and outcome.plan_flagged and outcome.short_by == 1
    assert "was missed" in plan.attention_reason and "no replacement fits the induction window" in plan.attention_reason
    assert outcome.replacement_starts_at is None
    assert plan.appointments.filter(status="booked").count() == 5
    # Asked to rebook, it still cannot: the plan says so, and nothing is booked.
    outcome = services.appointment_mark_no_show(
        appointment=booked[5],
        actor=clinic.front_desk.user,
        now=booked[5].starts_at + dt.timedelta(hours=3),
        rebook=True,
    )
    plan.refresh_from_db()
    assert outcome.rebooked == [] and "could not be re-booked" in plan.attention_reason
    assert plan.appointments.filter(status="booked").count() == 4


def test_a_missed_session_is_not_reflowed_past_the_review_date(clinic):
    # The review date is the day of the course's last session: a replacement for a missed session
    # would come after it, where the course has stopped. Nothing is booked and the plan says why.
    plan, booked = _book_course(clinic)
    plan.review_date = booked[5].starts_at.astimezone(NY).date()
    plan.save(update_fields=["review_date"])
    after = booked[4].starts_at + dt.timedelta(hours=3)
    outcome = services.appointment_mark_no_show(
        appointment=booked[4], actor=clinic.front_desk.user, now=after, rebook=True
    )
    plan.refresh_from_db()
    assert outcome.rebooked == [] and outcome.short_by == 1
    assert plan.needs_attention and "review date" in plan.attention_reason
    assert not plan.appointments.filter(starts_at__date__gt=plan.review_date).exists()


def test_a_no_show_rebooks_nothing_unless_asked(clinic):
    plan, booked = _book_course(clinic)
    third = booked[2]
    before = {row[0]: row for row in _course_state(plan) if row[0] != third.pk}
    after_start = third.starts_at + dt.timedelta(hours=3)
    outcome = services.appointment_mark_no_show(appointment=third, actor=clinic.front_desk.user, now=after_start)
    assert outcome.appointment.status == AppointmentStatus.NO_SHOW
    assert outcome.rebooked == [] and outcome.short_by == 1 and outcome.plan_flagged
    assert outcome.replacement_starts_at is not None and outcome.replacement_starts_at > after_start
    assert outcome.course.startswith("Induction now short by 1 session; the first replacement that fits is ")
    after = {row[0]: row for row in _course_state(plan) if row[0] != third.pk}
    assert set(after) == set(before)  # nothing added
    assert all(after[pk][1:5] == before[pk][1:5] for pk in before)  # nothing moved (sequences renumber)
    plan.refresh_from_db()
    assert plan.needs_attention and "was missed" in plan.attention_reason
    again = services.appointment_mark_no_show(appointment=third, actor=clinic.front_desk.user, now=after_start)
    assert again.rebooked == [] and plan.appointments.filter(status="booked").count() == 5


def test_a_no_show_with_rebook_books_the_replacement_inside_the_window(clinic):
    plan, booked = _book_course(clinic)
    third = booked[2]
    outcome = services.appointment_mark_no_show(
        appointment=third, actor=clinic.front_desk.user, now=third.starts_at + dt.timedelta(hours=3), rebook=True
    )
    assert len(outcome.rebooked) == 1 and outcome.short_by == 0 and not outcome.plan_flagged
    active = list(plan.appointments.filter(status="booked").order_by("starts_at"))
    assert len(active) == 6 and [a.sequence for a in active] == [1, 2, 3, 4, 5, 6]
    assert outcome.rebooked[0].starts_at > third.starts_at


def test_no_show_only_after_the_start_and_retries_are_harmless(clinic):
    _plan, booked = _book_course(clinic)
    with pytest.raises(InvalidState):
        services.appointment_mark_no_show(appointment=booked[0], actor=None, now=NOW)
    services.appointment_check_in(appointment=booked[0], actor=None, now=booked[0].starts_at)
    again = services.appointment_check_in(appointment=booked[0], actor=None, now=booked[0].starts_at)
    assert again.status == AppointmentStatus.CHECKED_IN
    with pytest.raises(InvalidState):
        services.appointment_confirm(appointment=booked[0], actor=None, now=NOW)


def test_completing_induction_moves_the_plan_to_maintenance_at_its_interval(clinic):
    plan, booked = _book_course(clinic)
    for session in booked:
        services.appointment_check_in(appointment=session, actor=None, now=session.starts_at)
        record_session_for_completion(session)
        services.appointment_complete(appointment=session, actor=None, now=session.ends_at)
    plan.refresh_from_db()
    assert plan.phase == Phase.MAINTENANCE
    maintenance = list(plan.appointments.filter(phase=Phase.MAINTENANCE, status="booked").order_by("starts_at"))
    assert maintenance
    first_gap = (maintenance[0].starts_at.astimezone(NY).date() - booked[-1].starts_at.astimezone(NY).date()).days
    assert abs(first_gap - plan.maintenance_interval_days) <= 3
    assert maintenance[-1].starts_at.astimezone(NY).date() <= plan.review_date


def _into_maintenance(clinic):
    plan, booked = _book_course(clinic)
    for session in booked:
        services.appointment_check_in(appointment=session, actor=None, now=session.starts_at)
        record_session_for_completion(session)
        services.appointment_complete(appointment=session, actor=None, now=session.ends_at)
    plan.refresh_from_db()
    return plan, booked[-1].ends_at


def test_changing_the_interval_moves_future_maintenance_sessions(clinic):
    plan, now = _into_maintenance(clinic)
    before = plan.appointments.filter(phase=Phase.MAINTENANCE, status="booked").count()
    services.plan_change_interval(
        plan=plan,
        days=14,
        reason="Relief fades after two weeks",
        actor=clinic.prescriber.user,
        now=now,
        expected_version=plan.version,
    )
    sessions = list(plan.appointments.filter(phase=Phase.MAINTENANCE, status="booked").order_by("starts_at"))
    assert len(sessions) > before
    gaps = [
        (b.starts_at.astimezone(NY).date() - a.starts_at.astimezone(NY).date()).days
        for a, b in itertools.pairwise(sessions)
    ]
    assert all(11 <= gap <= 17 for gap in gaps)
    record = plan.history.first()
    assert "Relief fades" in record.history_change_reason and record.history_user == clinic.prescriber.user


def test_an_out_of_range_interval_is_refused_with_the_range(clinic):
    plan = clinic.plan()
    with pytest.raises(InvalidInput, match="between 14 and 42 days"):
        services.plan_change_interval(plan=plan, days=90, reason="x", actor=clinic.prescriber.user, now=NOW)


def test_a_stale_edit_is_refused(clinic):
    plan, now = _into_maintenance(clinic)
    seen = plan.version
    services.plan_change_interval(
        plan=plan, days=21, reason="first editor", actor=clinic.prescriber.user, now=now, expected_version=seen
    )
    with pytest.raises(StaleVersion):
        services.plan_change_interval(
            plan=plan, days=35, reason="second editor", actor=clinic.prescriber.user, now=now, expected_version=seen
        )
    plan.refresh_from_db()
    assert plan.maintenance_interval_days == 21


def test_pause_releases_future_sessions_and_resume_books_the_rest(clinic):
    plan, booked = _book_course(clinic)
    for session in booked[:2]:
        services.appointment_check_in(appointment=session, actor=None, now=session.starts_at)
        record_session_for_completion(session)
        services.appointment_complete(appointment=session, actor=None, now=session.ends_at)
    now = booked[1].ends_at
    services.plan_pause(plan=plan, reason="Influenza", actor=clinic.prescriber.user, now=now)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAUSED
    assert plan.appointments.filter(status="booked").count() == 0
    # The released sessions say the plan was paused; why (clinical) stays in the plan's history.
    assert plan.appointments.filter(status="cancelled", cancellation_reason="Plan paused").count() == 4
    with pytest.raises(InvalidState):
        services.appointment_book(
            patient=plan.patient, plan=plan, site=clinic.site, starts_at=now + dt.timedelta(days=3), actor=None, now=now
        )
    created = services.plan_resume(
        plan=plan, resume_date=dt.date(2026, 3, 23), reason="Recovered", actor=clinic.prescriber.user, now=now
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    assert len(created) == 4
    assert min(a.starts_at.astimezone(NY).date() for a in created) >= dt.date(2026, 3, 23)
    reasons = [h.history_change_reason for h in plan.history.all()]
    assert any(r and r.startswith("Paused") and "Influenza" in r for r in reasons)
    assert any(r and r.startswith("Resumed") and "Recovered" in r for r in reasons)


def test_a_paused_plan_resumes_only_if_screening_allows_it_now(clinic):
    """A pause is often an illness: a contraindication found meanwhile stops the resume, as it stops
    a new course, until a prescriber overrides it; the refused resume changes nothing."""
    plan, booked = _book_course(clinic)
    now = booked[0].starts_at - dt.timedelta(days=1)
    services.plan_pause(plan=plan, reason="Admitted to hospital", actor=clinic.prescriber.user, now=now)
    seizures = Contraindication.objects.create(
        code="seizure-history-x", label="History of seizures", kind=Contraindication.Kind.SEIZURE_HISTORY
    )
    Patient.objects.filter(pk=plan.patient_id).update(seizure_history=True)
    resume = dict(resume_date=dt.date(2026, 3, 23), reason="Discharged", actor=clinic.prescriber.user, now=now)
    with pytest.raises(NotEligible, match=seizures.label):
        services.plan_resume(plan=plan, **resume)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAUSED
    assert not plan.appointments.filter(status__in=UPCOMING_STATUSES).exists()

    services.plan_override_eligibility(
        plan=plan,
        reason="Single febrile seizure in childhood; neurology cleared",
        actor=clinic.prescriber.user,
        now=now,
    )
    assert len(services.plan_resume(plan=plan, **resume)) == 6


def test_ending_early_releases_everything_and_needs_a_reason(clinic):
    plan, _booked = _book_course(clinic)
    with pytest.raises(InvalidInput):
        services.plan_end(plan=plan, reason="  ", actor=clinic.prescriber.user, now=NOW)
    services.plan_end(plan=plan, reason="Moved abroad", actor=clinic.prescriber.user, now=NOW)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ENDED and plan.ended_at == NOW
    assert not plan.appointments.filter(status="booked").exists()


def test_a_new_induction_after_relapse_replaces_maintenance(clinic):
    plan, now = _into_maintenance(clinic)
    start = (now + dt.timedelta(days=10)).astimezone(NY).date()
    created = services.plan_new_induction(
        plan=plan, start_date=start, reason="PHQ-9 back to 19", actor=clinic.prescriber.user, now=now
    )
    plan.refresh_from_db()
    assert plan.induction_round == 2 and plan.phase == Phase.INDUCTION
    assert len(created) == 6 and all(a.induction_round == 2 for a in created)
    assert not plan.appointments.filter(phase=Phase.MAINTENANCE, status="booked").exists()


def test_an_unscreened_patient_cannot_start_without_a_prescribers_override(clinic):
    patient = PatientFactory(home_site=clinic.site, evaluation=None)
    plan = clinic.plan(patient=patient)
    with pytest.raises(NotEligible, match="No mental-health evaluation"):
        services.course_book(plan=plan, actor=clinic.prescriber.user, now=NOW, start_date=START)
    # The front desk is refused too, told only that a prescriber must decide (the reasons are health data).
    with pytest.raises(NotEligible, match="needs a prescriber's decision") as refused:
        services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    assert "evaluation" not in refused.value.message and not refused.value.details
    services.plan_override_eligibility(
        plan=plan, reason="Evaluated at referring hospital; letter on file", actor=clinic.prescriber.user, now=NOW
    )
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    assert len(booked) == 6
    assert (
        TreatmentPlan.objects.get(pk=plan.pk)
        .history.filter(history_change_reason__startswith="Screening override")
        .exists()
    )


def test_a_course_is_proposed_at_another_site_only_for_staff_who_work_there(clinic):
    from clinic.permissions import OutsideYourSites

    other = SiteFactory(time_zone="America/New_York", name="Across Town")
    ChairFactory(site=other)
    add_shifts(StaffFactory(role=Role.NURSE, sites=[other]), other, START, 30)
    plan = clinic.plan()
    with pytest.raises(OutsideYourSites):
        services.course_propose(plan=plan, start_date=START, now=NOW, site=other, actor=clinic.front_desk.user)
    clinic.front_desk.sites.add(other)
    desk = type(clinic.front_desk.user).objects.get(pk=clinic.front_desk.user.pk)  # its sites read afresh
    proposal = services.course_propose(plan=plan, start_date=START, now=NOW, site=other, actor=desk)
    assert proposal.site == other and len(proposal.sessions) == 6
