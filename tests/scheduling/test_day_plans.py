"""Day plans: the day template solved again around one day's bookings (scheduling.engine.day_template.
solve_day_plan, scheduling.services.day_plans), and placement and the board preferring them.
Every date is fixed."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections import Counter
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from clinic.models import Closure, Role, Shift
from scheduling import tasks
from scheduling.engine.day_template import ChairSpec, NurseShift, solve_day_plan, solve_day_template
from scheduling.engine.model import ChairState, NurseState, NurseWork, SiteSnapshot, Span
from scheduling.engine.wallclock import local_instant
from scheduling.errors import SchedulingError
from scheduling.models import Appointment, DayPlan, DayTemplateState
from scheduling.selectors import day_plan_inputs, day_plan_site_part, preferred_starts, site_placement
from scheduling.services import appointment_book, appointment_cancel, appointment_move, course_propose, day_plans
from scheduling.services.day_plans import day_plans_refresh
from scheduling.services.day_template import day_template_regenerate
from tests.factories import PatientFactory, SiteFactory, StaffFactory
from tests.night_clinic import AUTUMN, NY, SPRING
from tests.scheduling.conftest import NOW, START, add_shifts, make_clinic
from tests.scheduling.test_day_template_solver import IV, WORKED
from tests.solver_limits import PROVING_TIME_LIMIT_SECONDS

ZONE = ZoneInfo("America/New_York")
# Every solve here is decided by its answer or its deterministic work budget, never by the clock:
# a loaded machine is slow, and a proof cut short would fail a test that says nothing of the code.
LIMIT = PROVING_TIME_LIMIT_SECONDS
DAY = dt.date(2027, 3, 9)  # a Tuesday
NURSES = (101, 102, 103, 104)


def _at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZONE).astimezone(dt.UTC)


def _minute(clock: dt.time) -> int:
    return clock.hour * 60 + clock.minute


def _snapshot(
    booked: list[tuple[int, int, dt.datetime]],
    *,
    chairs: int = 12,
    day: dt.date = DAY,
    shifts: dict[int, tuple[dt.time, dt.time]] | None = None,
    closures: tuple[tuple[dt.datetime, dt.datetime], ...] = (),
    work: NurseWork | None = None,
) -> SiteSnapshot:
    """The issue's site (12 chairs, 4 nurses 08:00-18:00, one setup at a time) with `booked` sessions
    (chair, nurse, start) of the standard protocol; `shifts` (nurse -> local hours) for another
    roster, `closures` and the protocol's nurse `work` when they differ."""
    work = work or NurseWork()
    shifts = shifts or {n: (dt.time(8), dt.time(18)) for n in NURSES}
    chair_busy: dict[int, list[Span]] = {c: [] for c in range(1, chairs + 1)}
    nurse_booked: dict[int, list[Span]] = {n: [] for n in shifts}
    hands: dict[int, list[Span]] = {n: [] for n in shifts}
    for chair, nurse, start in booked:
        span = Span(start, start + dt.timedelta(minutes=120))
        chair_busy[chair].append(span)
        nurse_booked[nurse].append(span)
        hands[nurse].extend(work.hands_on(span.start, span.end))
    return SiteSnapshot(
        id=1,
        name="Level",
        zone=ZONE,
        opening={weekday: (dt.time(8), dt.time(18)) for weekday in range(7 if day != DAY else 5)},
        closures=tuple((Span(a, b), "Closed") for a, b in closures),
        chairs=tuple(
            ChairState(id=c, name=f"Chair {c}", routes=IV, busy=tuple(sorted(chair_busy[c]))) for c in chair_busy
        ),
        nurses=tuple(
            NurseState(
                id=n,
                name=str(n),
                shifts=(Span(_at(begins.hour, begins.minute, day=day), _at(ends.hour, ends.minute, day=day)),),
                booked=tuple(sorted(nurse_booked[n])),
                hands_on=tuple(sorted(hands[n])),
            )
            for n, (begins, ends) in shifts.items()
        ),
        max_patients_per_nurse=3,
        step_minutes=5,
        setups_per_nurse=1,
    )


@pytest.fixture(scope="module")
def template():
    outcome = solve_day_template(
        chairs=[ChairSpec(c, IV) for c in range(1, 13)],
        opening=(dt.time(8), dt.time(18)),
        nurse_shifts=[NurseShift(dt.time(8), dt.time(18))] * 4,
        protocols=[WORKED],
        time_limit_seconds=LIMIT,
    )
    assert outcome.status == "OPTIMAL"
    assert outcome.template is not None and outcome.template.sessions_per_day == 44
    return outcome.template


# Sessions booked off the template's rhythm (before it existed): Chair 1 at 09:10 and Chair 2 at 11:50
# with the first nurse, Chair 5 at 13:05 with the second (Chair 5 is in the first nurse's lane).
OFF_RHYTHM = [(1, 101, _at(9, 10)), (2, 101, _at(11, 50)), (5, 102, _at(13, 5))]


def _sessions_by_nurse(outcome, booked):
    """Each nurse's sessions (start minute, chair) on the day: the booked ones with their nurse, the
    plan's with the nurse the plan gives them (as placement does)."""
    sessions: dict[int, list[tuple[int, int]]] = {n: [] for n in NURSES}
    for chair, nurse, start in booked:
        local = start.astimezone(ZONE)
        sessions[nurse].append((local.hour * 60 + local.minute, chair))
    for chair, rows in outcome.starts.items():
        for clock, _ in rows:
            sessions[outcome.nurses[chair, clock]].append((_minute(clock), chair))
    return sessions


def _assert_booking_rules_hold(outcome, booked):
    pieces = WORKED.hands_on()
    by_nurse = _sessions_by_nurse(outcome, booked)
    for nurse, sessions in by_nurse.items():
        # One piece of hands-on work at a time, at most three patients at once, inside opening hours.
        work = sorted((start + offset, start + offset + length) for start, _ in sessions for offset, length in pieces)
        assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(work)), nurse
        watched = Counter(minute for start, _ in sessions for minute in range(start, start + 120))
        assert max(watched.values(), default=0) <= 3, nurse
        assert all(start >= 8 * 60 and start + 120 <= 18 * 60 for start, _ in sessions)
    by_chair: dict[int, list[int]] = {}
    for sessions in by_nurse.values():
        for start, chair in sessions:
            by_chair.setdefault(chair, []).append(start)
    for starts in by_chair.values():
        assert all(b - a >= 120 for a, b in itertools.pairwise(sorted(starts)))


def test_a_day_plan_fills_the_day_to_the_ceiling_around_sessions_booked_off_the_template(template):
    outcome = solve_day_plan(
        snapshot=_snapshot(OFF_RHYTHM), day=DAY, lanes=template.lanes, protocols=[WORKED], time_limit_seconds=LIMIT
    )

    assert outcome.status == "OPTIMAL"
    assert outcome.kept == frozenset()
    # The ceiling of an empty day is 44; the plan gets there with the three sessions as booked.
    assert outcome.sessions + len(OFF_RHYTHM) == template.sessions_per_day
    # The template alone keeps fewer places free of the booked chairs, before any nurse clash.
    left = sum(
        1
        for chair, rows in template.starts.items()
        for clock, _ in rows
        if not any(
            c == chair and abs(_minute(clock) - (s.astimezone(ZONE).hour * 60 + s.astimezone(ZONE).minute)) < 120
            for c, _, s in OFF_RHYTHM
        )
    )
    assert left + len(OFF_RHYTHM) < template.sessions_per_day


def test_a_day_plan_breaks_no_rule_of_booking_with_the_sessions_already_there(template):
    outcome = solve_day_plan(
        snapshot=_snapshot(OFF_RHYTHM), day=DAY, lanes=template.lanes, protocols=[WORKED], time_limit_seconds=LIMIT
    )

    _assert_booking_rules_hold(outcome, OFF_RHYTHM)
    assert outcome.sessions >= outcome.by_lanes


# Sessions each booked by a nurse other than the one of its chair's lane (booked by hand, before the
# template): each binds two lanes, and each nurse's chairs solved alone hold fewer than the day can.
CROSSED = [
    (1, 102, _at(8)),
    (2, 103, _at(8, 20)),
    (3, 104, _at(8, 40)),
    (4, 101, _at(9)),
    (5, 103, _at(11, 30)),
    (6, 104, _at(12, 10)),
    (7, 101, _at(13, 15)),
    (8, 102, _at(14)),
    (9, 104, _at(15, 5)),
    (10, 101, _at(15, 40)),
]


def test_solved_whole_the_day_holds_more_than_each_nurses_chairs_solved_alone(template):
    outcome = solve_day_plan(
        snapshot=_snapshot(CROSSED),
        day=DAY,
        lanes=template.lanes,
        protocols=[WORKED],
        # The whole-day solve's budget is deterministic work (the same answer under any load); the
        # wall-clock limit only has to leave room for it on a slow, busy machine.
        time_limit_seconds=LIMIT,
    )

    assert outcome.kept == frozenset()
    assert outcome.sessions > outcome.by_lanes
    _assert_booking_rules_hold(outcome, CROSSED)
    # Some of the new sessions go to a nurse other than the lane's: the plan names each start's nurse.
    assert any(
        outcome.nurses[c, clock] != NURSES[template.lanes[c]] for c, rows in outcome.starts.items() for clock, _ in rows
    )


def test_a_full_day_has_a_plan_with_no_starts_left(template):
    # Book the template's own day with its lanes' nurses: nothing more fits, and the answer says so.
    booked = [
        (chair, NURSES[template.lanes[chair]], dt.datetime.combine(DAY, clock, tzinfo=ZONE).astimezone(dt.UTC))
        for chair, rows in template.starts.items()
        for clock, _ in rows
    ]

    outcome = solve_day_plan(
        snapshot=_snapshot(booked), day=DAY, lanes=template.lanes, protocols=[WORKED], time_limit_seconds=LIMIT
    )

    assert outcome.sessions == 0
    assert outcome.kept == frozenset()
    assert outcome.status in {"OPTIMAL", "FEASIBLE"}


def test_chairs_whose_bookings_no_day_can_hold_keep_the_template(template):
    # Two sessions of the first nurse whose setups meet (booked before the hands-on rule): that nurse's
    # chairs have no answer and keep the template's starts; the other nurses' chairs are solved.
    booked = [(1, 101, _at(9)), (2, 101, _at(9, 5))]

    outcome = solve_day_plan(
        snapshot=_snapshot(booked), day=DAY, lanes=template.lanes, protocols=[WORKED], time_limit_seconds=LIMIT
    )

    first_lane = {chair for chair, lane in template.lanes.items() if lane == 0}
    assert outcome.kept == first_lane
    assert set(outcome.starts) == set(template.lanes) - first_lane


@pytest.mark.parametrize("day", [dt.date(2026, 3, 8), dt.date(2026, 11, 1)], ids=["spring-forward", "fall-back"])
def test_on_the_days_the_clocks_change_a_plan_keeps_clear_of_the_bookings_in_real_time(template, day):
    # A site open on the Sunday the clocks change: the plan is in wall-clock minutes, the bookings
    # are instants; a start it offers must not meet a booked session on its chair.
    booked = [(1, 101, _at(9, 10, day=day)), (5, 102, _at(13, 5, day=day))]

    outcome = solve_day_plan(
        snapshot=_snapshot(booked, day=day), day=day, lanes=template.lanes, protocols=[WORKED], time_limit_seconds=LIMIT
    )

    # As many as around the same bookings on an ordinary Tuesday.
    ordinary = [(1, 101, _at(9, 10)), (5, 102, _at(13, 5))]
    same = solve_day_plan(
        snapshot=_snapshot(ordinary), day=DAY, lanes=template.lanes, protocols=[WORKED], time_limit_seconds=LIMIT
    )
    # (each nurse's chairs solved alone: exact, so the same on both days).
    assert outcome.kept == frozenset()
    assert outcome.by_lanes == same.by_lanes and outcome.sessions >= outcome.by_lanes
    _assert_booking_rules_hold(outcome, [(c, n, s) for c, n, s in booked])
    for chair, _, start in booked:
        session = Span(start, start + dt.timedelta(minutes=120))
        for clock, _ in outcome.starts[chair]:
            begins = dt.datetime.combine(day, clock, tzinfo=ZONE).astimezone(dt.UTC)
            assert not session.overlaps(Span(begins, begins + dt.timedelta(minutes=120)))


def _night_snapshot(day: dt.date, booked: list[tuple[int, dt.datetime]]) -> SiteSnapshot:
    """tests/night_clinic.py's hours (Sundays 00:00-06:00): two chairs, one nurse on 00:00-08:00,
    with `booked` sessions (chair, start) of the standard protocol."""
    work = NurseWork(setup_minutes=20, check_offsets_minutes=(40,), check_minutes=5, discharge_minutes=10)
    length = dt.timedelta(minutes=WORKED.chair_minutes)
    busy: dict[int, list[Span]] = {1: [], 2: []}
    for chair, start in booked:
        busy[chair].append(Span(start, start + length))
    spans = sorted(span for rows in busy.values() for span in rows)
    return SiteSnapshot(
        id=1,
        name="Night",
        zone=NY,
        opening={6: (dt.time(0), dt.time(6))},
        closures=(),
        chairs=tuple(ChairState(id=c, name=f"Chair {c}", routes=IV, busy=tuple(busy[c])) for c in busy),
        nurses=(
            NurseState(
                id=101,
                name="101",
                shifts=(Span(local_instant(day, dt.time(0), NY), local_instant(day, dt.time(8), NY)),),
                booked=tuple(spans),
                hands_on=tuple(sorted(h for span in spans for h in work.hands_on(span.start, span.end))),
            ),
        ),
        max_patients_per_nurse=3,
        step_minutes=5,
        setups_per_nurse=1,
    )


@pytest.mark.parametrize("day", [SPRING, AUTUMN], ids=["spring-forward", "fall-back"])
def test_a_night_plan_on_the_night_the_clocks_change_offers_only_starts_that_happen_once(day):
    # The plan is solved in wall-clock minutes, but sessions last real minutes: no start in the hour
    # the clocks skip (it does not exist) or repeat (it names two instants), and none across it.
    length = dt.timedelta(minutes=WORKED.chair_minutes)
    booked_at = local_instant(day, dt.time(0, 10), NY)  # off any rhythm, before the clocks change

    outcome = solve_day_plan(
        snapshot=_night_snapshot(day, [(1, booked_at)]),
        day=day,
        lanes={1: 0, 2: 0},
        protocols=[WORKED],
        time_limit_seconds=LIMIT,
    )

    assert outcome.starts, outcome
    closes = local_instant(day, dt.time(6), NY)
    sessions: dict[int, list[Span]] = {1: [Span(booked_at, booked_at + length)], 2: []}
    problems = []
    for chair, rows in outcome.starts.items():
        for clock, _ in rows:
            begins = local_instant(day, clock, NY)
            if begins is None:
                problems.append(f"chair {chair} {clock}: that wall time does not exist on {day}")
                continue
            if dt.datetime.combine(day, clock, tzinfo=NY).replace(fold=1).astimezone(dt.UTC) != begins:
                problems.append(f"chair {chair} {clock}: that wall time happens twice on {day}")
            span = Span(begins, begins + length)
            if span.end > closes:
                problems.append(f"chair {chair} {clock}: ends {span.end.astimezone(NY):%H:%M}, after closing")
            if any(span.overlaps(other) for other in sessions[chair]):
                problems.append(f"chair {chair} {clock}: overlaps another session on its chair in real time")
            sessions[chair].append(span)
    assert problems == [], "a night plan offers a start the clocks' change makes wrong"


def test_a_closed_day_or_one_without_nurses_gets_no_plan(template):
    saturday = DAY + dt.timedelta(days=4)
    assert solve_day_plan(snapshot=_snapshot([]), day=saturday, lanes=template.lanes, protocols=[WORKED]).kept == (
        frozenset(template.lanes)
    )


# --- The service, the task and what reads the plans -------------------------------------------------

# A Wednesday in the fixture's weeks (nurses 07:30-18:30 every day, the site open 08:00-18:00).
LATER = dt.datetime(2026, 3, 25, 18, tzinfo=dt.UTC)
PLAN_DAY = dt.date(2026, 4, 7)  # the Tuesday after


@pytest.fixture
def level(db):
    clinic = make_clinic(placement_policy="level")
    template = day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=LATER)
    assert template.state == DayTemplateState.DONE
    return clinic, template


def _book(clinic, hour: int, minute: int = 0, *, chair=None, day: dt.date = PLAN_DAY, now=LATER) -> Appointment:
    return appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clinic.site.zone),
        actor=clinic.front_desk.user,
        now=now,
        chair=chair or clinic.chairs[0],
        nurse=clinic.nurses[0],
        duration=dt.timedelta(minutes=120),
    )


def _bookable(clinic, starts: dict[int, frozenset[dt.time]]) -> int:
    """How many of `starts` on PLAN_DAY booking takes, one after another in time order (then undone)."""
    by_id = {chair.pk: chair for chair in clinic.chairs}
    taken = 0
    with transaction.atomic():
        for clock, chair_id in sorted((clock, chair_id) for chair_id, times in starts.items() for clock in times):
            try:
                with transaction.atomic():
                    _book(clinic, clock.hour, clock.minute, chair=by_id[chair_id])
            except SchedulingError:
                continue
            taken += 1
        transaction.set_rollback(True)
    return taken


def _template_start(template, chair) -> dt.time:
    return min(dt.time.fromisoformat(e["start"]) for e in template.starts if e["chair_id"] == chair.pk)


def test_only_days_with_a_session_off_the_template_get_a_plan(level):
    clinic, template = level
    on_rhythm = _template_start(template, clinic.chairs[0])
    _book(clinic, on_rhythm.hour, on_rhythm.minute, day=PLAN_DAY + dt.timedelta(days=1))
    _book(clinic, 9, 10)

    report = day_plans_refresh(site=clinic.site, now=LATER)

    assert report.solved == [PLAN_DAY]
    plan = DayPlan.objects.get(site=clinic.site)
    assert plan.day == PLAN_DAY and plan.template == template
    assert plan.solver_status == "OPTIMAL"
    assert plan.booked == [Appointment.objects.get(starts_at__date=PLAN_DAY).pk]
    # The plan's starts keep clear of the session it was solved around, and the board reads them.
    planned = preferred_starts(site_id=clinic.site.pk, day=PLAN_DAY)
    assert planned != preferred_starts(site_id=clinic.site.pk)
    first_chair = sorted(_minute(t) for t in planned.get(clinic.chairs[0].pk, ()))
    assert all(start + 120 <= 9 * 60 + 10 or start >= 11 * 60 + 10 for start in first_chair)
    # Every start of the plan can be booked, under booking's own rules; the template's starts, booked
    # the same way on the same day, hold fewer.
    planned_count = sum(len(times) for times in planned.values())
    assert planned_count == _bookable(clinic, planned) > _bookable(clinic, preferred_starts(site_id=clinic.site.pk))
    assert planned_count + 1 <= template.sessions_per_day


def test_a_plan_is_solved_again_only_when_its_day_changes_otherwise_than_at_its_starts(level):
    clinic, template = level
    off = _book(clinic, 9, 10)
    day_plans_refresh(site=clinic.site, now=LATER)

    assert day_plans_refresh(site=clinic.site, now=LATER).solved == []  # nothing changed

    # Book one of the plan's starts that the template does not have.
    plan = DayPlan.objects.get(site=clinic.site)
    by_id = {chair.pk: chair for chair in clinic.chairs}
    template_starts = {(e["chair_id"], e["start"]) for e in template.starts}
    chair_id, start = next(
        (e["chair_id"], e["start"]) for e in plan.starts if (e["chair_id"], e["start"]) not in template_starts
    )
    at_plan = dt.time.fromisoformat(start)
    kept = _book(clinic, at_plan.hour, at_plan.minute, chair=by_id[chair_id])
    report = day_plans_refresh(site=clinic.site, now=LATER)
    assert report.solved == [] and report.unchanged == 1  # booked at one of its starts: it still holds

    # The session it was solved around is gone: solved again, around the one left (off the template).
    appointment_cancel(appointment=off, actor=clinic.front_desk.user, now=LATER, reason="Patient unwell")
    report = day_plans_refresh(site=clinic.site, now=LATER)
    assert report.solved == [PLAN_DAY]
    assert DayPlan.objects.get(site=clinic.site).booked == [kept.pk]


def test_a_day_back_on_the_template_loses_its_plan(level):
    clinic, _ = level
    off = _book(clinic, 9, 10)
    day_plans_refresh(site=clinic.site, now=LATER)

    appointment_cancel(appointment=off, actor=clinic.front_desk.user, now=LATER, reason="Patient unwell")
    report = day_plans_refresh(site=clinic.site, now=LATER)

    assert report.solved == [] and report.removed == 1
    assert not DayPlan.objects.filter(site=clinic.site).exists()
    assert preferred_starts(site_id=clinic.site.pk, day=PLAN_DAY) == preferred_starts(site_id=clinic.site.pk)


def test_a_new_session_off_the_plan_solves_the_day_again(level):
    clinic, _ = level
    _book(clinic, 9, 10)
    day_plans_refresh(site=clinic.site, now=LATER)
    first = DayPlan.objects.get(site=clinic.site)

    _book(clinic, 14, 5, chair=clinic.chairs[2])
    report = day_plans_refresh(site=clinic.site, now=LATER)

    assert report.solved == [PLAN_DAY]
    again = DayPlan.objects.get(site=clinic.site)
    assert again.pk == first.pk and len(again.booked) == 2
    assert again.starts != first.starts


def test_past_days_and_sites_that_no_longer_level_lose_their_plans(level):
    clinic, _ = level
    _book(clinic, 9, 10)
    day_plans_refresh(site=clinic.site, now=LATER)

    after = dt.datetime.combine(PLAN_DAY + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    assert day_plans_refresh(site=clinic.site, now=after).removed == 1
    assert not DayPlan.objects.exists()

    day_plans_refresh(site=clinic.site, now=LATER)
    clinic.site.placement_policy = "earliest"
    clinic.site.save()
    assert day_plans_refresh(site=clinic.site, now=LATER).removed == 1
    assert not DayPlan.objects.exists()


@pytest.mark.django_db
def test_a_course_at_a_level_site_takes_the_days_plan_and_says_so():
    clinic = make_clinic(placement_policy="level")
    day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=NOW)
    # Off the template's rhythm on the days the first session may take (the day asked for and the
    # next): a session on Chair 1 at 09:10.
    first_days = [START, START + dt.timedelta(days=1)]
    for day in first_days:
        _book(clinic, 9, 10, day=day, now=NOW)
    assert day_plans_refresh(site=clinic.site, now=NOW).solved == first_days

    proposal = course_propose(plan=clinic.plan(), start_date=START, now=NOW)

    first = proposal.sessions[0]
    local = first.starts_at.astimezone(clinic.site.zone)
    assert local.date() in first_days
    planned = preferred_starts(site_id=clinic.site.pk, day=local.date())
    assert planned != preferred_starts(site_id=clinic.site.pk)
    assert local.time() in planned[first.chair_id]
    assert "a start of this day's plan" in first.why
    assert "a start of the day template" not in first.why


def test_beat_refreshes_the_plans_of_every_level_site(level, monkeypatch):
    clinic, _ = level
    other = SiteFactory(placement_policy="earliest")
    seen = []
    monkeypatch.setattr(
        tasks, "day_plans_refresh", lambda *, site, now: seen.append(site.pk) or day_plans_refresh(site=site, now=LATER)
    )
    _book(clinic, 9, 10)

    # Beat's run queues one run per level site (run at once here: tasks are eager in the tests).
    assert tasks.refresh_day_plans() == 1
    assert seen == [clinic.site.pk]
    assert other.pk not in seen
    assert DayPlan.objects.filter(site=clinic.site, day=PLAN_DAY).exists()
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-day-plans"]
    assert entry["task"] == tasks.refresh_day_plans.name


def test_each_days_solve_gets_the_limit_the_settings_hold_when_the_refresh_runs(level, monkeypatch):
    clinic, _ = level
    _book(clinic, 9, 10)
    _book(clinic, 9, 10, day=PLAN_DAY + dt.timedelta(days=1))
    seen: list[float] = []

    def solve(**kwargs):
        seen.append(kwargs["time_limit_seconds"])
        return solve_day_plan(**kwargs)

    monkeypatch.setattr(day_plans, "solve_day_plan", solve)

    with override_settings(DAY_PLAN_TIME_LIMIT_SECONDS=45):
        assert day_plans_refresh(site=clinic.site, now=LATER, solves=1).solved == [PLAN_DAY]
    with override_settings(DAY_PLAN_TIME_LIMIT_SECONDS=50):
        day_plans_refresh(site=clinic.site, now=LATER)

    assert seen == [45, 50]


def test_the_refresh_tasks_limit_lies_past_one_days_solve():
    # A run stopped at its limit keeps the days solved so far; one that could not finish a single
    # day would never plan anything. Derived from the setting, as the template task's is.
    assert settings.DAY_PLAN_TIME_LIMIT_SECONDS == PROVING_TIME_LIMIT_SECONDS
    soft = tasks.refresh_day_plans.soft_time_limit
    assert soft == tasks.day_plans_soft_limit(settings.DAY_PLAN_TIME_LIMIT_SECONDS)
    assert soft > settings.DAY_PLAN_TIME_LIMIT_SECONDS
    assert tasks.refresh_day_plans.time_limit > soft
    # At least the run's own budget for many days; past any one day's limit, however long.
    assert tasks.day_plans_soft_limit(30) == tasks.day_plans_soft_limit(1) >= 240
    assert tasks.day_plans_soft_limit(600) >= 600 + 15


@pytest.mark.django_db
def test_beat_clears_the_plans_of_a_site_taken_off_level_placement():
    clinic = make_clinic(placement_policy="level", chairs=4, nurses=2)
    day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=LATER)
    _book(clinic, 9, 10)
    assert day_plans_refresh(site=clinic.site, now=LATER).solved == [PLAN_DAY]
    clinic.site.placement_policy = "earliest"
    clinic.site.save(update_fields=["placement_policy"])

    with time_machine.travel(LATER, tick=False):
        tasks.refresh_day_plans()  # beat's run (tasks are eager in the tests)

    assert not DayPlan.objects.filter(site=clinic.site).exists(), "a site off level placement kept its day plans"


@pytest.mark.django_db
def test_a_nurse_taken_off_the_sites_staff_is_no_longer_named_by_its_day_plans():
    clinic = make_clinic(placement_policy="level", chairs=4, nurses=2)
    template = day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=LATER)
    assert template.state == DayTemplateState.DONE
    leaving = clinic.nurses[1]
    _book(clinic, 9, 10)  # off the template's rhythm, with the nurse who stays
    assert day_plans_refresh(site=clinic.site, now=LATER).solved == [PLAN_DAY]
    plan = DayPlan.objects.get(site=clinic.site, day=PLAN_DAY)
    assert any(e.get("nurse_id") == leaving.pk for e in plan.starts)

    # She moves to another clinic; her shifts here stay as they were typed.
    leaving.sites.remove(clinic.site)
    report = day_plans_refresh(site=clinic.site, now=LATER)

    plan = DayPlan.objects.get(site=clinic.site, day=PLAN_DAY)
    assert report.solved == [PLAN_DAY], report
    assert not any(e.get("nurse_id") == leaving.pk for e in plan.starts), "the plan names a nurse gone from the site"


def _plan_giving_a_chair_to_the_other_nurse(clinic, template, days, *, now, start="10:30"):
    """Day plans on `days` with one start on Chair 1 (10:30), given to the nurse of the other lane."""
    by_id = sorted(nurse.pk for nurse in clinic.nurses)
    lanes = {e["chair_id"]: e["lane"] for e in template.starts}
    chair = clinic.chairs[0]
    other = by_id[(lanes[chair.pk] + 1) % len(by_id)]
    inputs = day_plan_inputs(site=clinic.site, first=min(days), last=max(days))
    for day in days:
        DayPlan.objects.create(
            site=clinic.site,
            day=day,
            template=template,
            starts=[{"chair_id": chair.pk, "start": start, "nurse_id": other, "minutes": 120}],
            # As the service keeps it: the day as solved (nothing booked yet).
            digest=inputs[day].digest(day_plan_site_part(clinic.site, template), []),
            computed_at=now,
        )
    return chair, other


@pytest.mark.django_db
def test_placement_gives_a_planned_start_the_nurse_the_plan_names():
    clinic = make_clinic(placement_policy="level", chairs=4, nurses=2)
    template = day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=NOW)
    first_days = [START, START + dt.timedelta(days=1)]
    chair, other = _plan_giving_a_chair_to_the_other_nurse(clinic, template, first_days, now=NOW)

    first = course_propose(plan=clinic.plan(), start_date=START, now=NOW).sessions[0]

    assert first.chair_id == chair.pk
    assert first.starts_at.astimezone(clinic.site.zone).time() == dt.time(10, 30)
    assert first.nurse_id == other


@pytest.mark.django_db
def test_a_session_at_a_planned_start_keeps_the_plan_only_with_the_nurse_it_names():
    clinic = make_clinic(placement_policy="level", chairs=4, nurses=2)
    template = day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=LATER)
    # 10:35: off the template's 15-minute grid, so the day is off the template whatever its starts.
    chair, other = _plan_giving_a_chair_to_the_other_nurse(clinic, template, [PLAN_DAY], now=LATER, start="10:35")
    nurses = {nurse.pk: nurse for nurse in clinic.nurses}
    lane_nurse = next(pk for pk in nurses if pk != other)
    at = dt.datetime.combine(PLAN_DAY, dt.time(10, 35), tzinfo=clinic.site.zone)

    def book(nurse_id: int) -> Appointment:
        return appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=at,
            actor=clinic.front_desk.user,
            now=LATER,
            chair=chair,
            nurse=nurses[nurse_id],
            duration=dt.timedelta(minutes=120),
        )

    planned = book(other)
    assert day_plans_refresh(site=clinic.site, now=LATER).unchanged == 1

    appointment_cancel(appointment=planned, actor=clinic.front_desk.user, now=LATER, reason="Moved")
    DayPlan.objects.filter(site=clinic.site).update(booked=[])
    book(lane_nurse)  # the chair's lane nurse, not the plan's: off the plan, solved again
    assert day_plans_refresh(site=clinic.site, now=LATER).solved == [PLAN_DAY]


def test_a_session_moved_within_its_day_solves_the_day_again(level):
    clinic, _ = level
    off = _book(clinic, 9, 10)
    day_plans_refresh(site=clinic.site, now=LATER)

    appointment_move(
        appointment=off,
        starts_at=dt.datetime.combine(PLAN_DAY, dt.time(13, 5), tzinfo=clinic.site.zone),
        actor=clinic.front_desk.user,
        now=LATER,
        chair=clinic.chairs[1],
    )
    report = day_plans_refresh(site=clinic.site, now=LATER)

    assert report.solved == [PLAN_DAY]
    planned = preferred_starts(site_id=clinic.site.pk, day=PLAN_DAY)
    assert _bookable(clinic, planned) == sum(len(times) for times in planned.values())


def test_a_closure_added_to_a_planned_day_solves_it_again_around_the_closure(level):
    clinic, _ = level
    _book(clinic, 9, 10)
    day_plans_refresh(site=clinic.site, now=LATER)

    zone = clinic.site.zone
    closed_from = dt.datetime.combine(PLAN_DAY, dt.time(13), tzinfo=zone)
    Closure.objects.create(
        site=clinic.site, starts_at=closed_from, ends_at=closed_from + dt.timedelta(hours=6), reason="Staff training"
    )
    report = day_plans_refresh(site=clinic.site, now=LATER)

    assert report.solved == [PLAN_DAY]
    planned = preferred_starts(site_id=clinic.site.pk, day=PLAN_DAY)
    assert all(_minute(t) + 120 <= 13 * 60 for times in planned.values() for t in times)


def test_a_chair_out_of_use_on_a_planned_day_solves_it_again_with_no_start_in_that_chair_then(level):
    clinic, _ = level
    _book(clinic, 9, 10)
    day_plans_refresh(site=clinic.site, now=LATER)

    zone = clinic.site.zone
    chair = clinic.chairs[1]
    closed_from = dt.datetime.combine(PLAN_DAY, dt.time(8), tzinfo=zone)
    Closure.objects.create(
        site=clinic.site, chair=chair, starts_at=closed_from, ends_at=closed_from + dt.timedelta(hours=6), reason="Pump"
    )
    report = day_plans_refresh(site=clinic.site, now=LATER)

    assert report.solved == [PLAN_DAY]
    planned = preferred_starts(site_id=clinic.site.pk, day=PLAN_DAY)
    assert all(_minute(t) >= 14 * 60 for t in planned.get(chair.pk, ()))
    assert any(_minute(t) < 14 * 60 for other, times in planned.items() if other != chair.pk for t in times)
    assert _bookable(clinic, planned) == sum(len(times) for times in planned.values())


def test_a_chair_out_of_use_period_moved_to_another_chair_solves_the_day_again(level):
    # Same times, another chair: the plan solved around the first chair's period is stale.
    clinic, _ = level
    _book(clinic, 9, 10)
    zone = clinic.site.zone
    closed_from = dt.datetime.combine(PLAN_DAY, dt.time(8), tzinfo=zone)
    closure = Closure.objects.create(
        site=clinic.site,
        chair=clinic.chairs[1],
        starts_at=closed_from,
        ends_at=closed_from + dt.timedelta(hours=6),
        reason="Pump",
    )
    day_plans_refresh(site=clinic.site, now=LATER)

    moved = clinic.chairs[2]
    Closure.objects.filter(pk=closure.pk).update(chair=moved)
    report = day_plans_refresh(site=clinic.site, now=LATER)

    assert report.solved == [PLAN_DAY]
    planned = preferred_starts(site_id=clinic.site.pk, day=PLAN_DAY)
    assert all(_minute(t) >= 14 * 60 for t in planned.get(moved.pk, ()))
    assert _bookable(clinic, planned) == sum(len(times) for times in planned.values())


def test_a_nurse_whose_day_is_two_back_to_back_shifts_gets_no_start_across_the_seam(template):
    # The first nurse's day stored as two shifts, 08:00-13:00 and 13:00-18:00: booking gives a
    # session only to a nurse one of whose shifts covers all of it.
    snapshot = _snapshot(OFF_RHYTHM)
    first = snapshot.nurses[0]
    split = replace(first, shifts=(Span(_at(8), _at(13)), Span(_at(13), _at(18))))
    snapshot = replace(snapshot, nurses=(split, *snapshot.nurses[1:]))

    outcome = solve_day_plan(
        snapshot=snapshot, day=DAY, lanes=template.lanes, protocols=[WORKED], time_limit_seconds=LIMIT
    )

    theirs = [
        (c, clock) for c, rows in outcome.starts.items() for clock, _ in rows if outcome.nurses[c, clock] == first.id
    ]
    assert theirs
    assert all(_minute(clock) + 120 <= 13 * 60 or _minute(clock) >= 13 * 60 for _, clock in theirs)
    _assert_booking_rules_hold(outcome, OFF_RHYTHM)


def test_plans_of_an_older_template_are_not_read(level):
    clinic, _ = level
    _book(clinic, 9, 10)
    day_plans_refresh(site=clinic.site, now=LATER)
    assert PLAN_DAY in site_placement(clinic.site).day_starts

    day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=LATER + dt.timedelta(minutes=5))

    assert PLAN_DAY not in site_placement(clinic.site).day_starts
    assert preferred_starts(site_id=clinic.site.pk, day=PLAN_DAY) == preferred_starts(site_id=clinic.site.pk)


@pytest.mark.django_db
def test_a_shift_or_closure_ending_at_midnight_belongs_to_its_own_day_only():
    # A late nurse 16:00-00:00 on Monday and a closure to Monday midnight: Tuesday holds neither
    # (its day plan would otherwise count a nurse who is not there and re-plan for nothing).
    clinic = make_clinic(chairs=2, nurses=0)
    zone = clinic.site.zone
    monday = dt.date(2027, 3, 1)
    midnight = dt.datetime.combine(monday + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    nurse = StaffFactory(role=Role.NURSE, sites=[clinic.site])
    Shift.objects.create(
        staff=nurse, site=clinic.site, starts_at=dt.datetime.combine(monday, dt.time(16), tzinfo=zone), ends_at=midnight
    )
    Closure.objects.create(
        site=clinic.site,
        starts_at=dt.datetime.combine(monday, dt.time(20), tzinfo=zone),
        ends_at=midnight,
        reason="Works",
    )
    # Tuesday 08:00-12:00: a nurse who is there.
    Shift.objects.create(
        staff=nurse,
        site=clinic.site,
        starts_at=dt.datetime.combine(monday + dt.timedelta(days=1), dt.time(8), tzinfo=zone),
        ends_at=dt.datetime.combine(monday + dt.timedelta(days=1), dt.time(12), tzinfo=zone),
    )

    inputs = day_plan_inputs(site=clinic.site, first=monday, last=monday + dt.timedelta(days=1))

    assert len(inputs[monday].shifts) == 1 and len(inputs[monday].closures) == 1
    tuesday = inputs[monday + dt.timedelta(days=1)]
    assert [(a.astimezone(zone).time(), b.astimezone(zone).time()) for _, a, b in tuesday.shifts] == [
        (dt.time(8), dt.time(12))
    ]
    assert tuesday.closures == []
    assert tuesday.nurses_by_shift_hours(zone, monday + dt.timedelta(days=1)) == {(dt.time(8), dt.time(12)): [nurse.pk]}


@pytest.mark.django_db
def test_a_plan_saved_again_between_two_reads_is_not_filed_under_its_old_revision():
    # Placement reads a plan's id and revision, then (in a second query) its starts. When the plan
    # is solved again in between, the old key finds nothing (the day falls back to the template),
    # never the new revision's starts; the new key reads them.
    from scheduling import selectors

    clinic = make_clinic(chairs=2, nurses=1)
    template = day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=NOW)
    chair = clinic.chairs[0]
    plan = DayPlan.objects.create(
        site=clinic.site,
        day=START,
        template=template,
        starts=[{"chair_id": chair.pk, "start": "09:00", "nurse_id": None, "minutes": 120}],
        digest="x",
        computed_at=NOW,
    )
    old_key = f"{plan.pk} {plan.revision}"
    plan.starts = [{"chair_id": chair.pk, "start": "11:00", "nurse_id": None, "minutes": 120}]
    plan.revision = uuid.uuid4()
    plan.save()

    assert selectors._plan_revisions([old_key]) == {}
    new_key = f"{plan.pk} {plan.revision}"
    starts, _ = selectors._plan_revisions([new_key])[new_key]
    assert starts == {chair.pk: frozenset({dt.time(11)})}


def test_with_a_one_nurse_template_any_nurse_on_shift_keeps_a_start_on_the_rhythm(level):
    # The template was solved for one nurse. On the plan day a second nurse works too, and the
    # desk books a template start with her: placement may give it to either nurse, so the day is
    # still on the template's rhythm and gets no plan of its own.
    clinic, template = level
    second = StaffFactory(role=Role.NURSE, sites=[clinic.site])
    add_shifts(second, clinic.site, PLAN_DAY, 1)
    entry = min(template.starts, key=lambda e: (e["start"], e["chair_id"]))
    chair = next(c for c in clinic.chairs if c.pk == entry["chair_id"])
    appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=dt.datetime.combine(PLAN_DAY, dt.time.fromisoformat(entry["start"]), tzinfo=clinic.site.zone),
        actor=clinic.front_desk.user,
        now=LATER,
        chair=chair,
        nurse=second,
        duration=dt.timedelta(minutes=120),
    )

    day_plans_refresh(site=clinic.site, now=LATER)

    assert not DayPlan.objects.filter(site=clinic.site, day=PLAN_DAY).exists()
