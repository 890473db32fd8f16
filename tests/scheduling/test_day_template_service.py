"""Computing, keeping and reading a site's day template: the service, the Celery task and the selectors."""

from __future__ import annotations

import datetime as dt
import itertools
import types
from pathlib import Path

import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError
from django.test import override_settings

from clinic.models import Role, Shift
from scheduling import tasks
from scheduling.engine.day_template import DEFAULT_TIME_LIMIT_SECONDS, DayTemplateOutcome
from scheduling.models import DayTemplate, DayTemplateState
from scheduling.selectors import day_template_inputs, latest_day_template, preferred_starts
from scheduling.services import appointment_book, course_book, course_propose
from scheduling.services import day_template as service
from scheduling.services.day_template import day_template_regenerate, day_template_request
from tests.factories import PatientFactory, ProtocolFactory, StaffFactory
from tests.scheduling.conftest import NOW, START, make_clinic
from tests.solver_limits import PROVING_TIME_LIMIT_SECONDS
from tests.test_compose import settings_reads

pytestmark = pytest.mark.django_db
# A Wednesday afternoon in the clinic's fixture weeks (its nurses work 07:30-18:30 every day).
LATER = dt.datetime(2026, 3, 25, 18, tzinfo=dt.UTC)


def _regenerate(clinic, now=LATER) -> DayTemplate:
    return day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=now)


def test_a_regenerated_template_holds_the_most_sessions_with_setups_one_at_a_time(clinic):
    # Three chairs, one nurse, 08:00-18:00, 15-minute grid, 120-minute sessions. The nurse's hands-on
    # work is the protocol's: a 20-minute setup, a 5-minute check 40 minutes in, a 10-minute discharge;
    # with setups alone the three chairs would hold 13 (08:00, 08:30, 09:00 and every two hours), but
    # the 08:30 and 09:00 setups would then meet the 08:00 session's check and the first discharges.
    template = _regenerate(clinic)

    assert template.state == DayTemplateState.DONE
    assert template.sessions_per_day == 11
    assert template.solver_status == "OPTIMAL"
    protocol = clinic.protocol
    pieces = sorted(
        (minute + offset, minute + offset + length)
        for minute in (
            dt.time.fromisoformat(entry["start"]).hour * 60 + dt.time.fromisoformat(entry["start"]).minute
            for entry in template.starts
        )
        for offset, length in [
            (0, protocol.nurse_setup_minutes),
            *((o, protocol.nurse_check_minutes) for o in protocol.nurse_check_offsets_minutes),
            (protocol.session_minutes - protocol.nurse_discharge_minutes, protocol.nurse_discharge_minutes),
        ]
    )
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(pieces))
    assert template.computed_by == clinic.prescriber.user
    assert template.computed_at == LATER
    starts = sorted(dt.time.fromisoformat(entry["start"]) for entry in template.starts)
    assert starts[0] == dt.time(8)
    assert {entry["protocol_id"] for entry in template.starts} == {clinic.protocol.pk}
    assert template.inputs["nurse_shifts"] == [["07:30", "18:30"]]
    assert template.inputs["opening"] == ["08:00", "18:00"]


def test_preferred_starts_are_read_from_the_latest_template(clinic):
    assert preferred_starts(site_id=clinic.site.pk) == {}
    template = _regenerate(clinic)

    preferred = preferred_starts(site_id=clinic.site.pk)

    assert set(preferred) == {chair.pk for chair in clinic.chairs}
    assert sum(len(times) for times in preferred.values()) == template.sessions_per_day
    assert dt.time(8) in set().union(*preferred.values())


def test_the_protocol_mix_comes_from_the_last_eight_weeks_of_bookings(clinic, django_assert_max_num_queries):
    short = ProtocolFactory(name="IV, 90 minutes", session_minutes=90)
    course_book(plan=clinic.plan(), actor=clinic.front_desk.user, now=NOW, start_date=START)
    course_book(plan=clinic.plan(protocol=short), actor=clinic.front_desk.user, now=NOW, start_date=START)
    course_book(plan=clinic.plan(), actor=clinic.front_desk.user, now=NOW, start_date=START)

    with django_assert_max_num_queries(6):
        inputs = day_template_inputs(site=clinic.site, now=LATER)

    weights = {protocol.id: protocol.weight for protocol in inputs.protocols}
    assert weights == {clinic.protocol.pk: 12.0, short.pk: 6.0}
    assert inputs.bookings_counted == 18
    # Eight weeks later those sessions no longer count: every active protocol alike.
    later = day_template_inputs(site=clinic.site, now=LATER + dt.timedelta(weeks=9))
    assert {p.id: p.weight for p in later.protocols} == {clinic.protocol.pk: 1.0, short.pk: 1.0}


def test_a_failed_solve_keeps_the_previous_template(clinic, monkeypatch):
    first = _regenerate(clinic)
    before = preferred_starts(site_id=clinic.site.pk)
    monkeypatch.setattr(
        service, "solve_day_template", lambda **kwargs: DayTemplateOutcome("INFEASIBLE", 0.1, template=None)
    )

    failed = _regenerate(clinic, now=LATER + dt.timedelta(hours=1))

    assert failed.state == DayTemplateState.FAILED
    assert failed.solver_status == "INFEASIBLE"
    assert "previous template stays in use" in failed.error
    assert latest_day_template(site_id=clinic.site.pk) == first
    assert preferred_starts(site_id=clinic.site.pk) == before


def test_a_solver_crash_is_recorded_as_a_failure_not_left_queued(clinic, monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("solver blew up")

    monkeypatch.setattr(service, "solve_day_template", crash)

    failed = _regenerate(clinic)

    assert failed.state == DayTemplateState.FAILED
    assert latest_day_template(site_id=clinic.site.pk) is None
    assert preferred_starts(site_id=clinic.site.pk) == {}


def test_a_site_without_nurse_shifts_gets_no_template(clinic):
    clinic.nurses[0].shifts.all().delete()

    failed = _regenerate(clinic)

    assert failed.state == DayTemplateState.FAILED
    assert preferred_starts(site_id=clinic.site.pk) == {}


def test_a_request_queues_one_task_after_commit_and_a_double_click_reuses_it(
    clinic, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []

    class Broker:
        def signature(self, name, args):
            assert name == tasks.regenerate_day_template.name  # the registered task, by its name
            return types.SimpleNamespace(apply_async=lambda: queued.extend(args))

    monkeypatch.setattr(service, "current_app", Broker())

    with django_capture_on_commit_callbacks(execute=True):
        first = day_template_request(site=clinic.site, actor=clinic.prescriber.user, now=LATER)
    with django_capture_on_commit_callbacks(execute=True):
        second = day_template_request(
            site=clinic.site, actor=clinic.prescriber.user, now=LATER + dt.timedelta(seconds=5)
        )

    assert first == second
    assert first.state == DayTemplateState.PENDING
    assert queued == [first.pk]


def test_the_task_computes_the_queued_template(clinic):
    attempt = DayTemplate.objects.create(site=clinic.site, requested_at=LATER, computed_by=clinic.prescriber.user)

    with time_machine.travel(LATER, tick=False):
        assert tasks.regenerate_day_template(attempt.pk) == DayTemplateState.DONE

    attempt.refresh_from_db()
    assert attempt.sessions_per_day == 11
    assert tasks.regenerate_day_template(attempt.pk) == "skipped"  # a redelivered task does nothing


def test_the_task_out_of_time_records_a_failure_and_keeps_the_previous_template(clinic, monkeypatch):
    first = _regenerate(clinic)
    attempt = DayTemplate.objects.create(site=clinic.site, requested_at=LATER, computed_by=clinic.prescriber.user)

    def too_slow(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(tasks, "day_template_regenerate", too_slow)

    assert tasks.regenerate_day_template(attempt.pk) == DayTemplateState.FAILED
    attempt.refresh_from_db()
    assert "ran out of time" in attempt.error
    assert latest_day_template(site_id=clinic.site.pk) == first


def test_a_task_that_fails_before_solving_marks_its_run_failed_not_left_queued(clinic, monkeypatch):
    attempt = DayTemplate.objects.create(site=clinic.site, requested_at=LATER, computed_by=clinic.prescriber.user)

    def connection_lost(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(service, "day_template_inputs", connection_lost)

    with pytest.raises(OperationalError):  # re-raised for Celery to log
        tasks.regenerate_day_template(attempt.pk)

    attempt.refresh_from_db()
    assert attempt.state == DayTemplateState.FAILED, "a run that failed reading its inputs stays queued"
    assert attempt.error == service.RUN_STOPPED
    # The administrator's next click starts a new run rather than being handed the dead one.
    monkeypatch.setattr(service, "_queue", lambda attempt, now: None)
    again = day_template_request(site=clinic.site, actor=clinic.prescriber.user, now=LATER + dt.timedelta(seconds=30))
    assert again.pk != attempt.pk


def test_a_request_marks_a_run_queued_past_the_stale_limit_failed(clinic, monkeypatch):
    # Its worker died: nothing will finish the row, which the history would list as pending for ever.
    lost = DayTemplate.objects.create(site=clinic.site, requested_at=LATER, computed_by=clinic.prescriber.user)
    monkeypatch.setattr(service, "_queue", lambda attempt, now: None)

    again = day_template_request(
        site=clinic.site, actor=clinic.prescriber.user, now=LATER + service.STALE_REQUEST + dt.timedelta(seconds=1)
    )

    lost.refresh_from_db()
    assert again.pk != lost.pk and again.state == DayTemplateState.PENDING
    assert lost.state == DayTemplateState.FAILED, "a run queued past the stale limit is still pending"
    assert lost.error == service.RUN_STOPPED


def test_the_task_time_limit_leaves_room_beyond_the_solver_limit_the_settings_give():
    # The tests' settings give the solver a long limit (tests/solver_limits.py): the task's own
    # limit is derived from the setting, so it still lies past it.
    assert settings.DAY_TEMPLATE_TIME_LIMIT_SECONDS == PROVING_TIME_LIMIT_SECONDS
    soft = tasks.regenerate_day_template.soft_time_limit
    assert soft == tasks.day_template_soft_limit(settings.DAY_TEMPLATE_TIME_LIMIT_SECONDS)
    assert soft > settings.DAY_TEMPLATE_TIME_LIMIT_SECONDS
    assert tasks.regenerate_day_template.time_limit > soft


@pytest.mark.parametrize("solver_seconds", [1, 10, 10.5, 600])
def test_the_tasks_limit_follows_any_solver_limit_with_room_to_load_and_write(solver_seconds):
    assert tasks.day_template_soft_limit(solver_seconds) >= solver_seconds + 15


def _solver_limits_seen(monkeypatch) -> list[float]:
    """Stand in for the solver: record the limit each solve is given (and find no day)."""
    seen: list[float] = []

    def solve(**kwargs):
        seen.append(kwargs["time_limit_seconds"])
        return DayTemplateOutcome("INFEASIBLE", 0.0, template=None)

    monkeypatch.setattr(service, "solve_day_template", solve)
    return seen


def test_the_service_gives_the_solver_the_limit_the_settings_hold_when_it_is_called(clinic, monkeypatch):
    seen = _solver_limits_seen(monkeypatch)

    with override_settings(DAY_TEMPLATE_TIME_LIMIT_SECONDS=7):
        _regenerate(clinic)
    with override_settings(DAY_TEMPLATE_TIME_LIMIT_SECONDS=13):
        _regenerate(clinic, now=LATER + dt.timedelta(minutes=1))
    # A caller that names a limit (the simulation bench) has it.
    day_template_regenerate(
        site=clinic.site, actor=clinic.prescriber.user, now=LATER + dt.timedelta(minutes=2), time_limit_seconds=3
    )

    assert seen == [7, 13, 3]


def test_the_task_gives_the_solver_the_limit_the_settings_hold(clinic, monkeypatch):
    seen = _solver_limits_seen(monkeypatch)
    attempt = DayTemplate.objects.create(site=clinic.site, requested_at=LATER, computed_by=clinic.prescriber.user)

    with override_settings(DAY_TEMPLATE_TIME_LIMIT_SECONDS=9), time_machine.travel(LATER, tick=False):
        assert tasks.regenerate_day_template(attempt.pk) == DayTemplateState.FAILED

    assert seen == [9]


def test_the_settings_default_is_the_engines_default_limit():
    # bench/day_template.py holds the engine's default limit: what production solves within
    # when DAY_TEMPLATE_TIME_LIMIT_SECONDS is unset.
    read = settings_reads((Path(__file__).resolve().parents[2] / "config" / "settings.py").read_text())
    assert read.defaults["DAY_TEMPLATE_TIME_LIMIT_SECONDS"] == DEFAULT_TIME_LIMIT_SECONDS


def test_a_course_proposal_at_a_level_loaded_site_prefers_the_saved_template_starts():
    clinic = make_clinic(placement_policy="level")
    # The template in use offers one start: Chair 2 at 10:30. On the course's empty days every time
    # keeps setups apart, so the template decides (issue 17: placement prefers template starts).
    chair = clinic.chairs[1]
    DayTemplate.objects.create(
        site=clinic.site,
        state=DayTemplateState.DONE,
        starts=[{"chair_id": chair.pk, "start": "10:30", "protocol_id": clinic.protocol.pk}],
        sessions_per_day=1,
        requested_at=NOW,
        computed_at=NOW,
    )
    plan = clinic.plan()

    proposal = course_propose(plan=plan, start_date=START, now=NOW)

    first = proposal.sessions[0]
    assert first.chair_id == chair.pk
    assert first.starts_at.astimezone(clinic.site.zone).time() == dt.time(10, 30)
    assert "a start of the day template" in first.why


def test_a_template_solved_per_nurse_keeps_each_chairs_nurse_and_bookings_follow_it():
    # Two nurses on the same shifts, four chairs: the day is solved per nurse; each chair's starts
    # carry the nurse (the lane: which of the nurses on shift, by id) whose chairs they are.
    clinic = make_clinic(placement_policy="level", chairs=4, nurses=2)
    template = _regenerate(clinic)

    lanes = {entry["chair_id"]: entry["lane"] for entry in template.starts}
    assert template.state == DayTemplateState.DONE
    assert sorted(set(lanes.values())) == [0, 1]
    assert set(lanes) == {chair.pk for chair in clinic.chairs}

    proposal = course_propose(plan=clinic.plan(), start_date=START, now=NOW)

    by_id = sorted(nurse.pk for nurse in clinic.nurses)
    for session in proposal.sessions:
        assert session.nurse_id == by_id[lanes[session.chair_id]]


# Nurses on different shifts: a morning nurse, one on the whole day and an afternoon nurse.
STAGGERED = [(dt.time(8), dt.time(13)), (dt.time(8), dt.time(18)), (dt.time(13), dt.time(18))]
# A Monday after LATER, inside the fixture's shifts.
BOOK_DAY = dt.date(2026, 3, 30)


# Two early and two late nurses: each start names its shift and which of the two (its rank).
TWO_BY_TWO = [(dt.time(8), dt.time(16))] * 2 + [(dt.time(10), dt.time(18))] * 2


def _staggered_clinic(roster=STAGGERED, chairs=4):
    clinic = make_clinic(placement_policy="level", chairs=chairs, nurses=0)
    zone = clinic.site.zone
    for begins, ends in roster:
        nurse = StaffFactory(role=Role.NURSE, sites=[clinic.site])
        clinic.nurses.append(nurse)
        Shift.objects.bulk_create(
            Shift(
                staff=nurse,
                site=clinic.site,
                starts_at=dt.datetime.combine(day, begins, tzinfo=zone),
                ends_at=dt.datetime.combine(day, ends, tzinfo=zone),
            )
            for day in (START - dt.timedelta(days=7) + dt.timedelta(days=i) for i in range(120))
        )
    return clinic


def _book_at(clinic, day: dt.date, chair_id: int, clock: dt.time | str, nurse=None):
    """A two-hour session for a new patient on `day` at `clock` on the chair: with `nurse`, or,
    as the desk's board books, leaving the nurse to placement."""
    return appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=dt.datetime.combine(
            day, clock if isinstance(clock, dt.time) else dt.time.fromisoformat(clock), tzinfo=clinic.site.zone
        ),
        actor=clinic.front_desk.user,
        now=LATER,
        chair=next(c for c in clinic.chairs if c.pk == chair_id),
        nurse=nurse,
        duration=dt.timedelta(minutes=120),
    )


def _entry_nurse(clinic, entry, roster=STAGGERED):
    """The nurse a start of a template solved per nurse names, as placement finds her on a day."""
    begins, ends = (dt.time.fromisoformat(clock) for clock in entry["shift"])
    alike = sorted(n.pk for n, hours in zip(clinic.nurses, roster, strict=True) if hours == (begins, ends))
    return next(n for n in clinic.nurses if n.pk == alike[entry["shift_rank"]])


def test_with_nurses_on_different_shifts_every_template_start_books_and_gets_the_nurse_it_names():
    clinic = _staggered_clinic()
    template = _regenerate(clinic)

    assert template.state == DayTemplateState.DONE
    assert all(entry.get("shift") and "lane" not in entry for entry in template.starts)
    assert {tuple(entry["shift"]) for entry in template.starts} == {
        (begins.isoformat("minutes"), ends.isoformat("minutes")) for begins, ends in STAGGERED
    }
    # The desk books each start on its chair and leaves the nurse to placement, as the board does.
    for entry in sorted(template.starts, key=lambda e: e["start"]):
        booked = _book_at(clinic, BOOK_DAY, entry["chair_id"], entry["start"])
        assert booked.nurse_id == _entry_nurse(clinic, entry).pk


def test_with_two_nurses_on_each_shift_every_start_books_with_the_one_its_rank_names():
    clinic = _staggered_clinic(TWO_BY_TWO, chairs=6)
    template = _regenerate(clinic)

    assert template.state == DayTemplateState.DONE
    assert {(tuple(e["shift"]), e["shift_rank"]) for e in template.starts} == {
        (("08:00", "16:00"), 0),
        (("08:00", "16:00"), 1),
        (("10:00", "18:00"), 0),
        (("10:00", "18:00"), 1),
    }
    for entry in sorted(template.starts, key=lambda e: e["start"]):
        booked = _book_at(clinic, BOOK_DAY, entry["chair_id"], entry["start"])
        assert booked.nurse_id == _entry_nurse(clinic, entry, TWO_BY_TWO).pk


def test_a_solve_cut_short_says_so_rather_than_blaming_the_clinic_setup(clinic, monkeypatch):
    monkeypatch.setattr(
        service, "solve_day_template", lambda **kwargs: DayTemplateOutcome("UNKNOWN", 30.0, template=None)
    )

    failed = _regenerate(clinic)

    assert failed.state == DayTemplateState.FAILED
    assert failed.solver_status == "UNKNOWN"
    assert "time limit" in failed.error
    assert "check the chairs" not in failed.error
