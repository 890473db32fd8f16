"""Booking whole courses and changing plans around the sessions a patient already had: the gap from
the last infusion, never more sessions than the protocol, the protocol's chair time, the booking
site's days, and only an active prescriber's or an open plan's changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.errors import DomainError
from scheduling import services
from scheduling.models import INFUSION_STATUSES, AppointmentStatus, Phase
from tests.clinical_helpers import complete_session
from tests.scheduling.conftest import NOW, START, make_clinic

NY = ZoneInfo("America/New_York")
ALL_WEEK = {d: (dt.time(8), dt.time(18)) for d in range(7)}


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=NY)


def _course_at(clinic, plan, starts):
    proposal = services.course_propose(plan=plan, start_date=START, now=NOW)
    template = proposal.sessions[0]
    length = template.ends_at - template.starts_at
    return [
        services.ProposedSession(
            sequence=i + 1,
            phase=Phase.INDUCTION,
            starts_at=start,
            ends_at=start + length,
            chair_id=clinic.chairs[0].pk,
            nurse_id=clinic.nurses[0].pk,
            site_id=clinic.site.pk,
        )
        for i, start in enumerate(starts)
    ]


@pytest.mark.django_db
def test_resumed_induction_keeps_the_min_gap_after_the_last_session_held():
    """Resume checks only whole days (ceil(48 h / 24) = 2), then books at the usual (earlier)
    time on that day: the first resumed session is less than 48 h after the last one held."""
    clinic = make_clinic(hours=ALL_WEEK)
    plan = clinic.plan()
    wed4, mon9 = dt.date(2026, 3, 4), dt.date(2026, 3, 9)
    starts = [
        _at(wed4, 9),
        _at(mon9, 16),
        _at(dt.date(2026, 3, 11), 16),
        _at(dt.date(2026, 3, 13), 16),
        _at(dt.date(2026, 3, 16), 16),
        _at(dt.date(2026, 3, 18), 16),
    ]
    booked = services.course_book(
        plan=plan, actor=clinic.front_desk.user, now=NOW, sessions=_course_at(clinic, plan, starts)
    )
    booked.sort(key=lambda a: a.starts_at)
    complete_session(booked[0])
    complete_session(booked[1])
    now = booked[1].ends_at
    services.plan_pause(plan=plan, reason="Influenza", actor=clinic.prescriber.user, now=now)
    plan.refresh_from_db()
    last_held = booked[1].starts_at
    try:
        created = services.plan_resume(
            plan=plan,
            resume_date=dt.date(2026, 3, 11),
            reason="Recovered",
            actor=clinic.prescriber.user,
            now=now,
        )
    except DomainError:
        return  # refusing the date is fine too
    first = min(a.starts_at for a in created)
    assert first - last_held >= dt.timedelta(hours=plan.protocol.min_gap_hours), (
        f"first resumed session {first.astimezone(NY)} only {(first - last_held)} after the last held "
        f"{last_held.astimezone(NY)}"
    )


def _round_sessions(plan):
    return list(
        plan.appointments.filter(
            phase=Phase.INDUCTION,
            induction_round=plan.induction_round,
            status__in=INFUSION_STATUSES,
        ).order_by("starts_at")
    )


@pytest.mark.django_db
def test_booking_a_course_again_mid_induction_never_gives_more_sessions_than_the_protocol():
    """Two sessions held, the rest cancelled by the desk; booking the course again books a
    full six more: eight induction infusions in one round for a six-session protocol."""
    clinic = make_clinic()
    plan = clinic.plan()
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    booked.sort(key=lambda a: a.starts_at)
    complete_session(booked[0])
    complete_session(booked[1])
    now = booked[1].ends_at
    for session in booked[2:]:
        services.appointment_cancel(appointment=session, actor=clinic.front_desk.user, reason="Patient asked", now=now)
    plan.refresh_from_db()
    try:
        services.course_book(
            plan=plan,
            actor=clinic.front_desk.user,
            now=now,
            start_date=now.astimezone(NY).date() + dt.timedelta(days=2),
        )
    except DomainError:
        return
    assert len(_round_sessions(plan)) <= plan.protocol.induction_session_count


@pytest.mark.django_db
def test_a_course_sent_with_sessions_shorter_than_the_protocol_chair_time_is_refused():
    """course_book trusts the client's ends_at: a 120-minute protocol's course is booked as
    15-minute sessions, and the chair is then free for someone else while the patient recovers."""
    clinic = make_clinic()
    plan = clinic.plan()
    proposal = services.course_propose(plan=plan, start_date=START, now=NOW)
    short = [
        services.ProposedSession(
            sequence=s.sequence,
            phase=s.phase,
            starts_at=s.starts_at,
            ends_at=s.starts_at + dt.timedelta(minutes=15),
            chair_id=s.chair_id,
            nurse_id=s.nurse_id,
            site_id=s.site_id,
        )
        for s in proposal.sessions
    ]
    with pytest.raises(DomainError):
        services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, sessions=short)


@pytest.mark.django_db
def test_a_new_induction_never_puts_a_second_session_on_the_day_of_one_held():
    """A maintenance session was held this morning; the prescriber starts a new induction from
    today and the first induction session is booked the same afternoon."""
    clinic = make_clinic()
    plan = clinic.plan()
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    booked.sort(key=lambda a: a.starts_at)
    for session in booked:
        complete_session(session)
    plan.refresh_from_db()
    assert plan.phase == Phase.MAINTENANCE
    first_maintenance = plan.appointments.filter(phase=Phase.MAINTENANCE, status=AppointmentStatus.BOOKED).order_by(
        "starts_at"
    )[0]
    complete_session(first_maintenance)
    now = first_maintenance.ends_at + dt.timedelta(minutes=5)
    today = now.astimezone(NY).date()
    plan.refresh_from_db()
    try:
        created = services.plan_new_induction(
            plan=plan, start_date=today, reason="Relapse", actor=clinic.prescriber.user, now=now
        )
    except DomainError:
        return  # refusing a same-day start is fine too
    first = min(a.starts_at for a in created)
    assert first.astimezone(NY).date() != today, (
        f"held at {first_maintenance.starts_at.astimezone(NY)}, new at {first.astimezone(NY)}"
    )


@pytest.mark.django_db
def test_the_review_date_of_an_ended_plan_cannot_be_changed():
    clinic = make_clinic()
    plan = clinic.plan()
    services.plan_end(plan=plan, reason="Patient moved away", actor=clinic.prescriber.user, now=NOW)
    plan.refresh_from_db()
    with pytest.raises(DomainError):
        services.plan_change_review_date(
            plan=plan,
            review_date=plan.review_date + dt.timedelta(days=90),
            reason="Extend",
            actor=clinic.prescriber.user,
            now=NOW,
        )


@pytest.mark.django_db
def test_a_course_at_a_site_in_another_zone_is_held_to_the_window_in_that_site_s_days():
    """check_course_rules counts days in the plan's site's zone, not the zone of the site the
    course is booked at: a 22-day course (2 Mar – 23 Mar in New York) is accepted for a
    21-day protocol because in London's days it spans 3 Mar – 23 Mar."""
    from clinic.models import Role, Shift
    from tests.factories import ChairFactory, SiteFactory, StaffFactory

    home = make_clinic(time_zone="Europe/London")
    ny = SiteFactory(time_zone="America/New_York", hours={d: (dt.time(8), dt.time(22)) for d in range(5)})
    chair = ChairFactory(site=ny, name="NY Chair 1")
    nurse = StaffFactory(role=Role.NURSE, sites=[ny])
    Shift.objects.bulk_create(
        Shift(
            staff=nurse,
            site=ny,
            starts_at=dt.datetime.combine(day, dt.time(7, 30), tzinfo=NY),
            ends_at=dt.datetime.combine(day, dt.time(22, 30), tzinfo=NY),
        )
        for day in (START - dt.timedelta(days=3) + dt.timedelta(days=i) for i in range(40))
    )
    home.front_desk.sites.add(ny)
    plan = home.plan()
    starts = [
        _at(dt.date(2026, 3, 2), 20),
        _at(dt.date(2026, 3, 5), 10),
        _at(dt.date(2026, 3, 9), 10),
        _at(dt.date(2026, 3, 11), 10),
        _at(dt.date(2026, 3, 13), 10),
        _at(dt.date(2026, 3, 23), 8),
    ]
    sessions = [
        services.ProposedSession(
            sequence=i + 1,
            phase=Phase.INDUCTION,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=plan.protocol.session_minutes),
            chair_id=chair.pk,
            nurse_id=nurse.pk,
            site_id=ny.pk,
        )
        for i, start in enumerate(starts)
    ]
    assert (starts[-1].date() - starts[0].date()).days >= plan.protocol.induction_window_days
    with pytest.raises(DomainError):
        services.course_book(plan=plan, actor=home.front_desk.user, now=NOW, sessions=sessions)


@pytest.mark.django_db
def test_an_inactive_prescriber_cannot_record_a_screening_override():
    """plan_override_eligibility checks the role by hand and forgets `active`, which
    require_prescriber (used by every other plan decision) checks."""
    clinic = make_clinic()
    plan = clinic.plan()
    clinic.prescriber.active = False
    clinic.prescriber.save(update_fields=["active"])
    user = clinic.prescriber.user
    user.refresh_from_db()
    with pytest.raises(DomainError):
        services.plan_override_eligibility(plan=plan, reason="Clinically justified", actor=user, now=NOW)
    plan.refresh_from_db()
    assert plan.eligibility_override_by_id is None
