"""Clinicians adjusting plans: an interval change moves only unconfirmed future sessions and
says what moved; resuming keeps the protocol's shape and the patient's usual day and time; the
timeline counts against the protocol."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from clinic.models import Closure
from scheduling import services
from scheduling.engine import remaining_weekly_counts
from scheduling.models import AppointmentStatus, Phase
from tests.clinical_helpers import complete_session
from tests.factories import ProtocolFactory
from tests.scheduling.conftest import NOW, START, into_maintenance
from web.chart import timeline

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def _into_maintenance(clinic):
    plan, booked = into_maintenance(clinic)
    return plan, booked[-1].ends_at


def _maintenance(plan):
    return list(plan.appointments.filter(phase=Phase.MAINTENANCE).exclude(status="cancelled").order_by("starts_at"))


def test_an_interval_change_keeps_confirmed_sessions_and_moves_only_unconfirmed_future_ones(clinic):
    plan, now = _into_maintenance(clinic)
    first, *rest = _maintenance(plan)
    services.appointment_confirm(appointment=first, actor=None, now=now)
    before = {a.pk: a.starts_at for a in rest}
    replan = services.plan_change_interval(
        plan=plan,
        days=35,
        reason="Relief lasts five weeks",
        actor=clinic.prescriber.user,
        now=now,
    )
    first.refresh_from_db()
    assert first.status == AppointmentStatus.CONFIRMED
    assert first.starts_at == first.history.last().starts_at, "the confirmed session did not move"
    sessions = _maintenance(plan)
    assert sessions[0].pk == first.pk
    gaps = [
        (b.starts_at.astimezone(NY).date() - a.starts_at.astimezone(NY).date()).days
        for a, b in itertools.pairwise(sessions)
    ]
    assert gaps and all(32 <= gap <= 38 for gap in gaps)
    # What moved is reported, with where each session was.
    assert replan.moved and all(before[a.pk] == old for a, old in replan.moved)
    assert {a.pk for a, _ in replan.moved} <= set(before)
    assert "moved" in replan.summary(plan.site)
    assert f"({len(replan.moved)} moved," in plan.history.first().history_change_reason


def test_an_interval_change_never_plans_or_flags_a_date_that_has_passed(clinic):
    plan, last_end = _into_maintenance(clinic)
    # Twenty days after the last induction session, before the first (28-day) maintenance session.
    now = last_end + dt.timedelta(days=20)
    replan = services.plan_change_interval(
        plan=plan,
        days=14,
        reason="Relief fades after two weeks",
        actor=clinic.prescriber.user,
        now=now,
    )
    plan.refresh_from_db()
    assert not plan.needs_attention, plan.attention_reason
    assert replan.problems == []
    sessions = _maintenance(plan)
    assert all(a.starts_at > now for a in sessions)
    # Overdue at 14 days: the first session is the first free day ahead, not a day in the past.
    assert (sessions[0].starts_at - now) < dt.timedelta(days=4)


def test_an_interval_change_never_moves_a_checked_in_session(clinic):
    plan, _now = _into_maintenance(clinic)
    first = _maintenance(plan)[0]
    services.appointment_check_in(appointment=first, actor=None, now=first.starts_at)
    services.plan_change_interval(
        plan=plan, days=14, reason="Shorter", actor=clinic.prescriber.user, now=first.starts_at
    )
    first.refresh_from_db()
    assert first.status == AppointmentStatus.CHECKED_IN
    assert first.starts_at == first.history.last().starts_at


def test_the_rest_of_a_weekly_pattern_keeps_its_shape():
    assert remaining_weekly_counts([3, 2, 1, 1, 1], 0) == (3, 2, 1, 1, 1)
    assert remaining_weekly_counts([3, 2, 1, 1, 1], 2) == (1, 2, 1, 1, 1)
    assert remaining_weekly_counts([3, 2, 1, 1, 1], 4) == (1, 1, 1, 1)
    assert remaining_weekly_counts([3, 2, 1, 1, 1], 8) == ()


def _paused_weekly_plan(clinic):
    plan = clinic.plan(protocol=ProtocolFactory(weekly=True))
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    # The patient's usual time is 14:00 (New York): both attended sessions were moved there.
    for session in booked[:2]:
        local_day = session.starts_at.astimezone(NY).date()
        services.appointment_move(
            appointment=session,
            starts_at=dt.datetime.combine(local_day, dt.time(14), tzinfo=NY),
            actor=clinic.prescriber.user,
            now=NOW,
            override_reason="Afternoons suit the patient",
        )
        session.refresh_from_db()
        complete_session(session)
    now = booked[1].ends_at
    services.plan_pause(plan=plan, reason="Influenza", actor=clinic.prescriber.user, now=now)
    plan.refresh_from_db()
    return plan, booked, now


def test_resuming_a_paused_three_two_one_one_one_keeps_the_weekly_tail_and_the_usual_time(clinic):
    plan, booked, now = _paused_weekly_plan(clinic)
    usual_weekdays = {a.starts_at.astimezone(NY).weekday() for a in booked[:2]}
    created = services.plan_resume(
        plan=plan,
        resume_date=dt.date(2026, 3, 23),
        reason="Recovered",
        actor=clinic.prescriber.user,
        now=now,
    )
    assert len(created) == 6
    local = sorted(a.starts_at.astimezone(NY) for a in created)
    first = local[0].date()
    weeks = [(moment.date() - first).days // 7 for moment in local]
    assert [weeks.count(week) for week in range(5)] == [1, 2, 1, 1, 1]
    assert all(moment.time() == dt.time(14) for moment in local)
    assert {moment.weekday() for moment in local} <= usual_weekdays
    assert first >= dt.date(2026, 3, 23)


def test_a_paused_plan_timeline_counts_against_the_protocol(clinic):
    plan, _booked, _now = _paused_weekly_plan(clinic)
    appointments = list(plan.appointments.select_related("plan__protocol").order_by("starts_at"))
    (induction,) = timeline(plan, appointments)
    assert (induction["done"], induction["total"]) == (2, 8)


def test_a_maintenance_session_with_no_free_day_in_its_range_flags_the_plan_and_none_is_laid_out_past_the_gap(clinic):
    plan, now = _into_maintenance(clinic)
    # Closed 50 to 70 days after induction ends: the second session of a 30-day interval (27 to
    # 33 days after the first) finds no day. Laying the rest out from its missed target put the
    # next one about 60 days after the first, where the protocol allows at most 42.
    Closure.objects.create(
        site=plan.site, starts_at=now + dt.timedelta(days=50), ends_at=now + dt.timedelta(days=70), reason="Works"
    )
    replan = services.plan_change_interval(
        plan=plan, days=30, reason="Relief lasts a month", actor=clinic.prescriber.user, now=now
    )
    sessions = _maintenance(plan)
    gaps = [
        (b.starts_at.astimezone(NY).date() - a.starts_at.astimezone(NY).date()).days
        for a, b in itertools.pairwise(sessions)
    ]
    assert all(gap <= plan.protocol.maintenance_max_days for gap in gaps), gaps
    assert len(sessions) == 1
    assert 27 <= (sessions[0].starts_at - now).days <= 33
    plan.refresh_from_db()
    assert plan.needs_attention and "the sessions after it are not laid out" in plan.attention_reason
    assert replan.problems


def test_at_a_level_site_a_patient_overdue_after_a_shorter_interval_is_not_kept_waiting_for_a_quieter_day(db):
    """Level placement takes the quietest day within the interval's tolerance; a session already
    overdue (a shorter interval makes the patient due before today) takes the first day with room
    instead: the next session never moves later for a quieter day, as it did (booked for the 28-day
    date, it moved a day past it when the interval went down to 14)."""
    from tests.scheduling.conftest import make_clinic

    clinic = make_clinic(placement_policy="level", nurses=2)
    plan, last_end = _into_maintenance(clinic)
    now = last_end + dt.timedelta(days=20)
    while (now.astimezone(NY) + dt.timedelta(days=1)).weekday() >= 5:
        now += dt.timedelta(days=1)
    tomorrow = now.astimezone(NY).date() + dt.timedelta(days=1)
    booked_before = _maintenance(plan)[0].starts_at
    assert booked_before.astimezone(NY).date() > tomorrow
    # Tomorrow is the busiest day ahead: three other patients' sessions.
    for hour in (8, 11, 14):
        clinic.book(clinic.plan(), [dt.datetime.combine(tomorrow, dt.time(hour), tzinfo=NY)])
    services.plan_change_interval(
        plan=plan, days=14, reason="Relief fades after two weeks", actor=clinic.prescriber.user, now=now
    )
    first = _maintenance(plan)[0]
    assert first.starts_at.astimezone(NY).date() == tomorrow, (
        f"overdue, yet placed on {first.starts_at.astimezone(NY):%a %-d %b} (first day with room: {tomorrow:%a %-d %b})"
    )
    assert first.starts_at <= booked_before


def _level_plan_with_busy_days(quiet_offset: int):
    """A level site's plan in maintenance, its first maintenance session on day D, and two other
    patients' sessions on every open day from D-5 to D+5 except D+`quiet_offset`, the quietest."""
    from tests.scheduling.conftest import make_clinic

    # Open six days a week, so a day either side of the first maintenance session is open.
    six_days = {day: (dt.time(8), dt.time(18)) for day in range(6)}
    clinic = make_clinic(placement_policy="level", nurses=2, hours=six_days)
    plan, last_end = _into_maintenance(clinic)
    booked = _maintenance(plan)[0].starts_at.astimezone(NY).date()
    for offset in range(-5, 6):
        day = booked + dt.timedelta(days=offset)
        if offset == quiet_offset or day.weekday() == 6:
            continue
        for hour in (10, 14):
            other = clinic.plan()
            services.appointment_book(
                patient=other.patient,
                plan=other,
                site=clinic.site,
                starts_at=dt.datetime.combine(day, dt.time(hour), tzinfo=NY),
                chair=clinic.chairs[1],
                actor=clinic.front_desk.user,
                now=NOW,
            )
    return clinic, plan, last_end, booked


@pytest.mark.parametrize(("days", "quiet_offset"), [(26, 1), (30, -1)])
def test_at_a_level_site_an_interval_change_moves_the_next_session_its_way_or_not_at_all(db, days, quiet_offset):
    """Level placement takes the quietest day within the interval's tolerance. After a change of
    interval the next session moves the way of the change (a shorter interval: earlier or not at
    all; a longer one: later or not at all), not to a quieter day the other way."""
    clinic, plan, last_end, booked = _level_plan_with_busy_days(quiet_offset)
    quiet = booked + dt.timedelta(days=quiet_offset)
    if quiet.weekday() == 6:
        pytest.fail(f"the quiet day {quiet} must be an open day for this test to say anything")
    services.plan_change_interval(
        plan=plan, days=days, reason="Adjusting to the relief", actor=clinic.prescriber.user, now=last_end
    )
    moved_to = _maintenance(plan)[0].starts_at.astimezone(NY).date()
    if days < 28:
        assert moved_to <= booked, f"interval shortened, next session moved later: {booked} -> {moved_to}"
    else:
        assert moved_to >= booked, f"interval lengthened, next session moved earlier: {booked} -> {moved_to}"
