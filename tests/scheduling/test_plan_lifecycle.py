"""A plan's lifecycle against its review date and its state: no session after the review date, in
either phase, without a prescriber's decision (nor a course, nor a resumed induction, running past
it), a review date brought forward releases or flags what lies past it, resuming books nothing
before the resume date and says why when the review date has passed, and a closed plan takes no
screening override."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Role
from clinic.permissions import PrescribersOnly
from patients.models import Contraindication, PatientFlag
from scheduling import services
from scheduling.engine import Preferences
from scheduling.errors import CourseDoesNotFit, InvalidState, PlanRuleBroken
from scheduling.models import AppointmentStatus, Phase, PlanStatus
from tests.clinical_helpers import complete_session, record_pre_vitals
from tests.factories import PatientFactory, StaffFactory
from tests.scheduling.conftest import (
    NOW,
    START,
    add_shifts,
    at_new_york,
    induction_completed_while_paused,
    into_maintenance,
)

pytestmark = pytest.mark.django_db


def _open_maintenance(plan):
    return list(
        plan.appointments.filter(phase=Phase.MAINTENANCE, status__in=["booked", "confirmed"]).order_by("starts_at")
    )


def _past_the_review_date(clinic, review):
    """A plan in maintenance whose review date is `review`, and a weekday 10:00 after it, one
    interval after the last session laid out."""
    plan, induction = into_maintenance(clinic, review_date=review, maintenance_interval_days=28)
    laid_out = _open_maintenance(plan)
    last = laid_out[-1] if laid_out else induction[-1]
    day = last.starts_at.astimezone(clinic.site.zone).date() + dt.timedelta(days=28)
    while day.weekday() >= 5:  # the site is open Monday to Friday
        day += dt.timedelta(days=1)
    assert day > review, "set-up: the session must fall after the review date"
    now = induction[-1].ends_at + dt.timedelta(hours=1)
    return plan, dt.datetime.combine(day, dt.time(10), tzinfo=clinic.site.zone), now


def _change_review_date(clinic, plan, review_date, *, reason, now):
    """The prescriber sets the plan's review date to `review_date` at `now`."""
    return services.plan_change_review_date(
        plan=plan, review_date=review_date, reason=reason, actor=clinic.prescriber.user, now=now
    )


def _book_one(clinic, plan, starts_at, *, actor, now, phase, **extra):
    """One session of `plan` at `starts_at` in the first chair, booked by `actor`."""
    return services.appointment_book(
        patient=plan.patient,
        plan=plan,
        site=clinic.site,
        starts_at=starts_at,
        chair=clinic.chairs[0],
        actor=actor,
        now=now,
        phase=phase,
        **extra,
    )


def test_the_front_desk_cannot_book_maintenance_past_the_review_date_without_a_prescriber(clinic):
    review = START + dt.timedelta(days=80)
    plan, starts_at, now = _past_the_review_date(clinic, review)

    with pytest.raises(PlanRuleBroken) as refused:
        _book_one(clinic, plan, starts_at, actor=clinic.front_desk.user, now=now, phase=Phase.MAINTENANCE)
    assert f"after the plan's review date ({review:%a %-d %b %Y})" in str(refused.value), refused.value
    assert refused.value.details["can_override"] is False, "the front desk cannot accept the break"


def test_a_prescriber_may_book_maintenance_past_the_review_date_with_a_reason(clinic):
    review = START + dt.timedelta(days=80)
    plan, starts_at, now = _past_the_review_date(clinic, review)

    booked = _book_one(
        clinic,
        plan,
        starts_at,
        actor=clinic.prescriber.user,
        now=now,
        phase=Phase.MAINTENANCE,
        override_reason="One more session before the review appointment",
    )
    assert booked.rule_override_reason == "One more session before the review appointment"


def test_resuming_a_plan_whose_induction_was_completed_while_paused_books_nothing_before_the_resume_date(clinic):
    plan = clinic.plan(maintenance_interval_days=28)
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    # The patient tells the nurse in the chair that they leave for two months tomorrow: the session
    # begun is not released by the pause and is completed.
    last = induction_completed_while_paused(plan, booked, pauser=clinic.prescriber.user)

    back = last.starts_at.astimezone(clinic.site.zone).date() + dt.timedelta(days=60)
    created = services.plan_resume(
        plan=plan,
        resume_date=back,
        reason="Back from travel",
        actor=clinic.prescriber.user,
        now=last.ends_at + dt.timedelta(days=1),
    )
    plan.refresh_from_db()
    days = sorted(a.starts_at.astimezone(clinic.site.zone).date() for a in created)
    assert plan.phase == Phase.MAINTENANCE and plan.status == PlanStatus.ACTIVE
    assert days, "resume laid out no maintenance at all"
    assert days[0] >= back, f"maintenance booked on {days[0]}, before the resume date {back}"


def test_resuming_a_maintenance_plan_after_its_review_date_books_nothing_and_flags_why(clinic):
    review = START + dt.timedelta(days=80)
    plan, induction = into_maintenance(clinic, review_date=review, maintenance_interval_days=28)
    assert not plan.needs_attention, plan.attention_reason
    now = induction[-1].ends_at + dt.timedelta(hours=1)
    services.plan_pause(plan=plan, reason="Unwell", actor=clinic.prescriber.user, now=now)

    created = services.plan_resume(
        plan=plan,
        resume_date=review + dt.timedelta(days=10),
        reason="Recovered",
        actor=clinic.prescriber.user,
        now=now + dt.timedelta(days=1),
    )
    plan.refresh_from_db()
    assert created == []
    assert plan.status == PlanStatus.ACTIVE
    assert plan.needs_attention, "nothing was booked and the plan does not say why"
    assert f"review date ({review:%a %-d %b %Y}) has passed" in plan.attention_reason, plan.attention_reason
    assert "sets a new review date" in plan.attention_reason, plan.attention_reason


def test_a_screening_override_is_not_recorded_on_an_ended_plan(clinic):
    patient = PatientFactory(home_site=clinic.site)
    plan = clinic.plan(patient=patient)
    services.plan_end(plan=plan, reason="Patient moved away", actor=clinic.prescriber.user, now=NOW)
    rule = Contraindication.objects.create(code="psychosis", label="Active psychosis", kind="flag")
    PatientFlag.objects.create(patient=patient, contraindication=rule, recorded_by=clinic.prescriber.user)

    with pytest.raises(InvalidState, match="recorded only on an open plan"):
        services.plan_override_eligibility(
            plan=plan, reason="Psychiatrist cleared", actor=clinic.prescriber.user, now=NOW
        )
    plan.refresh_from_db()
    assert plan.eligibility_override_by_id is None


def test_bringing_the_review_date_forward_flags_a_confirmed_session_after_it_and_keeps_it(clinic):
    plan, induction = into_maintenance(clinic, maintenance_interval_days=28)
    sessions = _open_maintenance(plan)
    assert len(sessions) >= 3, "set-up: a few maintenance sessions are laid out"
    now = induction[-1].ends_at + dt.timedelta(hours=1)
    second = sessions[1]
    services.appointment_confirm(appointment=second, actor=None, now=now)
    zone = clinic.site.zone
    new_review = sessions[0].starts_at.astimezone(zone).date() + dt.timedelta(days=7)
    assert new_review < second.starts_at.astimezone(zone).date()

    _change_review_date(clinic, plan, new_review, reason="Dependence concern: review after the next session", now=now)
    second.refresh_from_db()
    plan.refresh_from_db()
    past_review = [a for a in _open_maintenance(plan) if a.starts_at.astimezone(zone).date() > new_review]
    # The patient agreed to the confirmed date: it stays until the prescriber decides, and the plan says so.
    assert [a.pk for a in past_review] == [second.pk], [(a.starts_at, a.status) for a in past_review]
    assert second.status == AppointmentStatus.CONFIRMED
    assert plan.needs_attention, (
        "a confirmed session stays booked after the new review date and the plan is not flagged"
    )
    assert f"review date is now {new_review:%a %-d %b %Y}" in plan.attention_reason, plan.attention_reason


def test_bringing_the_review_date_forward_releases_unconfirmed_sessions_after_it_even_before_a_confirmed_one(clinic):
    plan, induction = into_maintenance(clinic, maintenance_interval_days=28)
    sessions = _open_maintenance(plan)
    assert len(sessions) >= 3, "set-up: a few maintenance sessions are laid out"
    now = induction[-1].ends_at + dt.timedelta(hours=1)
    second, third = sessions[1], sessions[2]
    # The third is confirmed, so the re-plan's layout starts after it: the second, unconfirmed and
    # between the new review date and the third, is not the layout's to release.
    services.appointment_confirm(appointment=third, actor=None, now=now)
    zone = clinic.site.zone
    new_review = sessions[0].starts_at.astimezone(zone).date() + dt.timedelta(days=7)

    _change_review_date(clinic, plan, new_review, reason="Dependence concern: review after the next session", now=now)
    second.refresh_from_db()
    assert second.status == AppointmentStatus.CANCELLED, f"session {second.sequence} stays {second.status}"
    assert second.cancellation_reason == f"After the plan's new review date ({new_review:%a %-d %b %Y})"
    assert second.released_with_plan == "rescheduled"
    assert not second.reminders.filter(kind="reminder", status="pending").exists(), (
        "the released session's reminders still go out"
    )
    past_review = [a for a in _open_maintenance(plan) if a.starts_at.astimezone(zone).date() > new_review]
    assert [a.pk for a in past_review] == [third.pk]


def _confirmed_session_kept_past_new_review_date(clinic):
    """A maintenance session the patient confirmed, kept (as the flag invites the prescriber to)
    after the review date was brought forward before it."""
    plan, induction = into_maintenance(clinic, maintenance_interval_days=28)
    sessions = _open_maintenance(plan)
    assert len(sessions) >= 3
    now = induction[-1].ends_at + dt.timedelta(hours=1)
    second = sessions[1]
    services.appointment_confirm(appointment=second, actor=None, now=now)
    new_review = sessions[0].starts_at.astimezone(clinic.site.zone).date() + dt.timedelta(days=7)
    _change_review_date(clinic, plan, new_review, reason="Dependence concern: review after the next session", now=now)
    second.refresh_from_db()
    assert second.status == AppointmentStatus.CONFIRMED
    return second, now


@pytest.mark.parametrize("change", ["chair", "nurse"])
def test_the_front_desk_changes_the_chair_or_nurse_of_a_session_kept_after_the_review_date(clinic, change):
    """The time stays: no infusion is placed after the review date anew (the prescriber kept this
    one), so a broken chair or a nurse off sick needs no prescriber's reason."""
    second, now = _confirmed_session_kept_past_new_review_date(clinic)
    if change == "chair":
        other = {"chair": next(c for c in clinic.chairs if c.pk != second.chair_id)}
    else:
        nurse = StaffFactory(role=Role.NURSE, sites=[clinic.site])
        add_shifts(nurse, clinic.site, START - dt.timedelta(days=7), 240)
        other = {"nurse": nurse}
    moved = services.appointment_move(
        appointment=second, starts_at=second.starts_at, actor=clinic.front_desk.user, now=now, **other
    )
    assert getattr(moved, f"{change}_id") == other[change].pk
    assert moved.status == AppointmentStatus.CONFIRMED, "the patient's confirmation stays with their time"
    # A new time after the review date is still the prescriber's decision.
    with pytest.raises(PlanRuleBroken):
        services.appointment_move(
            appointment=moved,
            starts_at=moved.starts_at + dt.timedelta(days=1),
            actor=clinic.front_desk.user,
            now=now,
        )


def _local_day(session, clinic):
    """The session's day at the clinic."""
    return session.starts_at.astimezone(clinic.site.zone).date()


def test_bringing_the_review_date_into_the_induction_releases_or_flags_the_induction_sessions_after_it(clinic):
    """The course stops at its review date in its induction too: the unconfirmed induction sessions
    after the new date are released, one the patient confirmed stays and the plan is flagged."""
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    assert len(course) == 6, "set-up: the six-session induction is booked"
    services.appointment_confirm(appointment=course[4], actor=None, now=NOW)
    new_review = _local_day(course[2], clinic)
    assert new_review < _local_day(course[3], clinic), "set-up: the sessions after the third fall on later days"

    _change_review_date(clinic, plan, new_review, reason="Dissociation too strong", now=NOW)
    plan.refresh_from_db()
    for session in course:
        session.refresh_from_db()
    assert [s.status for s in course] == [
        AppointmentStatus.BOOKED,
        AppointmentStatus.BOOKED,
        AppointmentStatus.BOOKED,
        AppointmentStatus.CANCELLED,
        AppointmentStatus.CONFIRMED,
        AppointmentStatus.CANCELLED,
    ], "induction sessions after the new review date were neither released nor kept as confirmed"
    assert course[3].cancellation_reason == f"After the plan's new review date ({new_review:%a %-d %b %Y})"
    assert course[3].released_with_plan == "rescheduled"
    assert plan.needs_attention, "a confirmed induction session stays after the review date and nobody is told"
    assert "the patient confirmed 1 session after it" in plan.attention_reason, plan.attention_reason


@pytest.mark.parametrize("in_chair", [False, True], ids=["checked_in", "in_chair"])
def test_a_session_begun_after_the_new_review_date_is_flagged_and_never_cancelled(clinic, in_chair):
    plan, _induction = into_maintenance(clinic, maintenance_interval_days=28)
    first, second, *_ = _open_maintenance(plan)
    now = first.starts_at
    services.appointment_check_in(appointment=first, actor=None, now=now)
    if in_chair:
        record_pre_vitals(first, first.nurse.user)
        now += dt.timedelta(minutes=5)
        services.appointment_start(appointment=first, actor=clinic.prescriber.user, now=now)
    # The prescriber, with the patient already in the clinic, ends the course the day before.
    new_review = _local_day(first, clinic) - dt.timedelta(days=1)

    _change_review_date(clinic, plan, new_review, reason="Dependence concern", now=now)
    plan.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == (AppointmentStatus.IN_CHAIR if in_chair else AppointmentStatus.CHECKED_IN)
    assert second.status == AppointmentStatus.CANCELLED
    assert plan.needs_attention, "a session begun after the new review date is neither released nor flagged"
    assert "1 session after it" in plan.attention_reason, plan.attention_reason
    assert "already begun" in plan.attention_reason, plan.attention_reason
    assert f"{first.starts_at.astimezone(clinic.site.zone):%a %-d %b %Y %H:%M}" in plan.attention_reason


def test_a_nurse_cannot_resume_a_plan_into_maintenance_a_prescriber_can(clinic):
    """The induction was all held during the pause: resuming moves the plan into maintenance, which is
    the prescriber's decision."""
    plan = clinic.plan(maintenance_interval_days=28)
    course = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    nurse = clinic.nurses[0]
    last = induction_completed_while_paused(plan, course, pauser=nurse.user)
    back = _local_day(last, clinic) + dt.timedelta(days=30)
    now = last.ends_at + dt.timedelta(days=1)

    with pytest.raises(PrescribersOnly, match=r"Resuming this plan into maintenance .* is a prescriber's decision"):
        services.plan_resume(plan=plan, resume_date=back, reason="Back from travel", actor=nurse.user, now=now)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAUSED and plan.phase == Phase.INDUCTION, "the refused resume changed the plan"
    assert not plan.appointments.filter(phase=Phase.MAINTENANCE).exists()

    created = services.plan_resume(
        plan=plan, resume_date=back, reason="Back from travel", actor=clinic.prescriber.user, now=now
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE and plan.phase == Phase.MAINTENANCE
    assert created


def test_a_nurse_still_resumes_a_plan_paused_in_its_induction(clinic):
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    nurse = clinic.nurses[0]
    complete_session(course[0])
    now = course[0].ends_at + dt.timedelta(hours=1)
    services.plan_pause(plan=plan, reason="Flu", actor=nurse.user, now=now)

    created = services.plan_resume(
        plan=plan,
        resume_date=_local_day(course[0], clinic) + dt.timedelta(days=7),
        reason="Recovered",
        actor=nurse.user,
        now=now,
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE and plan.phase == Phase.INDUCTION
    assert len(created) == 5


def _induction_ending_early(clinic):
    """A plan whose review date (Thu 12 Mar 2026) falls inside its induction's 21 days, with its first
    session booked on Mon 2 March; the times after the review date are refused."""
    plan = clinic.plan(review_date=START + dt.timedelta(days=10))
    (first,) = clinic.book(plan, [at_new_york(START, 10)])
    return plan, first


def test_the_front_desk_cannot_book_an_induction_session_past_the_review_date_a_prescriber_may(clinic):
    """The course stops at its review date in its induction too: a make-up or extra induction session
    after it is a break of the plan's rules, as a maintenance session is."""
    plan, _first = _induction_ending_early(clinic)
    after_review = at_new_york(START + dt.timedelta(days=14), 10)  # Mon 16 March
    book = {"patient": plan.patient, "plan": plan, "site": clinic.site, "chair": clinic.chairs[0], "now": NOW}

    with pytest.raises(PlanRuleBroken) as refused:
        services.appointment_book(starts_at=after_review, actor=clinic.front_desk.user, phase=Phase.INDUCTION, **book)
    assert refused.value.violations == [f"after the plan's review date ({plan.review_date:%a %-d %b %Y})"]
    assert refused.value.details["can_override"] is False, "the front desk cannot accept the break"

    booked = services.appointment_book(
        starts_at=after_review,
        actor=clinic.prescriber.user,
        phase=Phase.INDUCTION,
        override_reason="Review appointment booked the day after",
        **book,
    )
    assert booked.phase == Phase.INDUCTION
    assert booked.rule_override_reason == "Review appointment booked the day after"


def test_the_front_desk_cannot_move_an_induction_session_past_the_review_date(clinic):
    plan, _first = _induction_ending_early(clinic)
    (second,) = clinic.book(plan, [at_new_york(START + dt.timedelta(days=2), 10)])
    after_review = at_new_york(START + dt.timedelta(days=14), 10)

    with pytest.raises(PlanRuleBroken, match=r"after the plan's review date \(Thu 12 Mar 2026\)"):
        services.appointment_move(appointment=second, starts_at=after_review, actor=clinic.front_desk.user, now=NOW)
    second.refresh_from_db()
    assert second.starts_at == at_new_york(START + dt.timedelta(days=2), 10)

    # A later review date (the prescriber's) lets the desk move it.
    _change_review_date(clinic, plan, START + dt.timedelta(days=20), reason="Reviewed: the whole induction", now=NOW)
    moved = services.appointment_move(appointment=second, starts_at=after_review, actor=clinic.front_desk.user, now=NOW)
    assert moved.starts_at == after_review


def test_a_course_running_past_the_review_date_is_not_booked_and_the_refusal_names_the_date(clinic):
    plan = clinic.plan()
    # Sessions proposed while the review date was later are refused once it is brought forward.
    proposed = services.course_propose(plan=plan, start_date=START, now=NOW).sessions
    plan.review_date = START + dt.timedelta(days=10)
    plan.save(update_fields=["review_date"])

    with pytest.raises(PlanRuleBroken) as refused:
        services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, sessions=proposed)
    assert refused.value.http_status == 409
    assert "after the plan's review date (Thu 12 Mar 2026): a prescriber sets a later review date" in str(
        refused.value
    ), refused.value
    assert refused.value.details["can_override"] is False
    # Nor is such a course proposed (nor booked from its start date): no whole course fits by the date.
    for attempt in (
        lambda: services.course_propose(plan=plan, start_date=START, now=NOW),
        lambda: services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START),
    ):
        with pytest.raises(CourseDoesNotFit) as not_proposed:
            attempt()
        assert not_proposed.value.http_status == 409
        assert "The course would run past the plan's review date" in str(not_proposed.value)
        assert "after the plan's review date (Thu 12 Mar 2026)" in str(not_proposed.value)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT and not plan.appointments.exists(), "part of the course was booked"


def test_resuming_an_induction_that_would_run_past_the_review_date_is_refused_and_the_plan_stays_paused(clinic):
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    complete_session(course[0])
    now = course[0].ends_at + dt.timedelta(hours=1)
    services.plan_pause(plan=plan, reason="Flu", actor=clinic.nurses[0].user, now=now)
    # A dependence concern while paused: the course is to end within the fortnight.
    review = START + dt.timedelta(days=14)
    _change_review_date(clinic, plan, review, reason="Dependence concern", now=now)
    plan.refresh_from_db()

    with pytest.raises(CourseDoesNotFit, match=rf"after the plan's review date \({review:%a %-d %b %Y}\)"):
        services.plan_resume(
            plan=plan,
            resume_date=START + dt.timedelta(days=7),
            reason="Recovered",
            actor=clinic.nurses[0].user,
            now=now,
        )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAUSED, "the refused resume changed the plan"
    assert not plan.appointments.filter(status__in=["booked", "confirmed"]).exists()


def test_the_alternatives_a_refused_course_offers_end_by_the_review_date_so_booking_one_is_not_refused(clinic):
    # Mondays only: no six-session course fits the 21 days, so the refusal offers the nearest
    # courses that fit. The review date is Thu 12 Mar: the course stops there.
    plan = clinic.plan(review_date=START + dt.timedelta(days=10), preferences=Preferences(weekdays=frozenset({0})))
    with pytest.raises(CourseDoesNotFit) as refused:
        services.course_propose(plan=plan, start_date=START, now=NOW, actor=clinic.front_desk.user)
    alternatives = refused.value.details.get("alternatives", [])
    for alternative in alternatives:
        last = dt.datetime.fromisoformat(alternative["sessions"][-1]["starts_at"].replace("Z", "+00:00"))
        assert last.astimezone(clinic.site.zone).date() <= plan.review_date, (
            f"{alternative['label']} is offered as a course that fits, but its last session "
            f"({last.astimezone(clinic.site.zone):%a %-d %b}) is after the review date {plan.review_date:%a %-d %b}"
        )
    # Booked as offered (the API's alternatives carry the sessions "so a client books one as it is").
    for alternative in alternatives:
        sessions = [services.ProposedSession.from_alternative(s) for s in alternative["sessions"]]
        assert services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, sessions=sessions)
        break


def test_a_session_begun_a_moment_ago_after_a_review_date_brought_forward_is_released_or_flagged(clinic):
    """Pausing and ending release a session begun a moment ago that the patient has not arrived for
    (_release_future: ends_at > now). A review date brought before that session's day ends the course
    there too: the session is released, or at least flagged for the prescriber, never left booked to
    be given past the end of the course without anyone deciding it."""
    plan, _induction = into_maintenance(clinic, maintenance_interval_days=28)
    maintenance = list(
        plan.appointments.filter(phase=Phase.MAINTENANCE, status=AppointmentStatus.BOOKED).order_by("starts_at")
    )
    assert maintenance, "set-up: maintenance was laid out"
    late = maintenance[0]
    now = late.starts_at + dt.timedelta(minutes=10)  # the patient is running late: not checked in yet
    day = late.starts_at.astimezone(clinic.site.zone).date()
    _change_review_date(
        clinic, plan, day - dt.timedelta(days=1), reason="Dependence concern: the course ends now", now=now
    )
    late.refresh_from_db()
    plan.refresh_from_db()
    assert late.status == AppointmentStatus.CANCELLED or (
        plan.needs_attention and late.starts_at.astimezone(clinic.site.zone).strftime("%-d %b") in plan.attention_reason
    ), (
        f"the session of {late.starts_at.astimezone(clinic.site.zone):%a %-d %b %H:%M}, after the new review date, "
        f"is still {late.status} and the plan is not flagged (needs_attention={plan.needs_attention}, "
        f"{plan.attention_reason!r}); the patient can still be checked in for it"
    )


def test_a_review_date_moved_later_releases_no_induction_session_a_prescriber_accepted_past_the_old_one(clinic):
    """A prescriber books an induction session after the review date, accepting the break in words.
    Moving the review date LATER (the course is extended, still short of that session) must not
    cancel the session the prescriber accepted: nothing is released when the course gets longer."""
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    zone = clinic.site.zone
    last = course[-1]
    last_day = last.starts_at.astimezone(zone).date()
    # The course is to end the day before its last session: that session is released.
    _change_review_date(clinic, plan, last_day - dt.timedelta(days=2), reason="Dependence concern", now=NOW)
    last.refresh_from_db()
    assert last.status == AppointmentStatus.CANCELLED
    plan.refresh_from_db()
    # The prescriber decides the sixth session is given after all, past the review date.
    accepted = _book_one(
        clinic,
        plan,
        last.starts_at,
        actor=clinic.prescriber.user,
        now=NOW,
        phase=Phase.INDUCTION,
        override_reason="Sixth session given; the course ends after it",
    )
    assert accepted.rule_override_reason
    plan.refresh_from_db()
    # A week later the prescriber extends the course by a day (still before the accepted session).
    _change_review_date(clinic, plan, last_day - dt.timedelta(days=1), reason="Course extended by a day", now=NOW)
    accepted.refresh_from_db()
    assert accepted.status == AppointmentStatus.BOOKED, (
        "moving the review date later cancelled the session the prescriber had accepted past it "
        f"({accepted.status}, {accepted.cancellation_reason!r})"
    )
