"""Sessions to move: a session booked before the site's set-up changed (a closure, shorter hours,
a chair out of use or re-equipped, a nurse's shift gone, a lower ratio, fewer setups at once or a
protocol's longer hands-on minutes) is found, with what it
now breaks; one that still fits, is over, cancelled or at another site is not."""

from __future__ import annotations

import datetime as dt
import threading
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from clinic.models import Closure, OpeningHours, Role, Route, Shift
from scheduling.models import AppointmentStatus
from scheduling.selectors import TO_MOVE_HORIZON, sessions_to_move
from scheduling.services import appointment_book, appointment_cancel, core
from scheduling.services.core import problem_reason
from tests.factories import ChairFactory, PatientFactory, SiteFactory, StaffFactory
from tests.scheduling.conftest import NOW, START, add_shifts, at_new_york, make_clinic, start_plus

pytestmark = pytest.mark.django_db
TUESDAY = start_plus(1)


def _found(site, *, now=NOW, until=None):
    found = sessions_to_move(site=site, now=now, until=until or now + TO_MOVE_HORIZON)
    return [(entry.appointment.pk, problem_reason(entry.problem), entry.problem) for entry in found]


@pytest.fixture
def booked():
    """One session on Tuesday 3 March 2026, 10:00–12:00 in New York, in Chair 1 with the one nurse."""
    clinic = make_clinic()
    (session,) = clinic.book(clinic.plan(), [at_new_york(TUESDAY, 10)])
    return clinic, session


def test_a_session_that_still_fits_is_not_listed(booked):
    clinic, _ = booked
    assert _found(clinic.site) == []


def test_a_closure_added_over_a_booked_session_lists_it(booked):
    clinic, session = booked
    Closure.objects.create(
        site=clinic.site, starts_at=at_new_york(TUESDAY, 11), ends_at=at_new_york(TUESDAY, 13), reason="Burst pipe"
    )
    assert _found(clinic.site) == [(session.pk, "site_closed", "the site is closed (Burst pipe)")]


def test_a_closure_of_every_site_lists_the_session_too(booked):
    clinic, _ = booked
    Closure.objects.create(
        site=None, starts_at=at_new_york(TUESDAY, 0), ends_at=at_new_york(TUESDAY, 23), reason="Storm"
    )
    assert [reason for _, reason, _ in _found(clinic.site)] == ["site_closed"]


def test_hours_shortened_or_a_weekday_closed_list_the_session(booked):
    clinic, session = booked
    hours = OpeningHours.objects.get(site=clinic.site, weekday=TUESDAY.weekday())
    hours.closes_at = dt.time(11)
    hours.save()
    assert _found(clinic.site) == [(session.pk, "outside_opening_hours", "outside opening hours (08:00–11:00)")]
    hours.delete()
    assert _found(clinic.site) == [(session.pk, "site_closed", "the site is closed that day")]


def test_a_chair_taken_out_of_use_or_re_equipped_lists_its_sessions(booked):
    clinic, session = booked
    chair = clinic.chairs[0]
    chair.equipment = [Route.INTRANASAL]
    chair.save()
    assert [reason for _, reason, _ in _found(clinic.site)] == ["chair_not_equipped"]
    chair.equipment = [Route.IV]
    chair.active = False
    chair.save()
    assert _found(clinic.site) == [(session.pk, "chair_not_at_site", "that chair is not in use at this site")]


def test_a_removed_shift_or_a_nurse_no_longer_active_lists_the_session(booked):
    clinic, _ = booked
    nurse = clinic.nurses[0]
    nurse.active = False
    nurse.save()
    assert [reason for _, reason, _ in _found(clinic.site)] == ["nurse_off_shift"]
    nurse.active = True
    nurse.save()
    assert _found(clinic.site) == []
    Shift.objects.filter(staff=nurse, starts_at__date=TUESDAY).delete()
    assert [reason for _, reason, _ in _found(clinic.site)] == ["nurse_off_shift"]


def _two_sessions_one_nurse(clinic, *, second_at):
    first, second = (clinic.plan() for _ in range(2))
    (a,) = clinic.book(first, [at_new_york(TUESDAY, 10)])
    b = appointment_book(
        patient=second.patient,
        plan=second,
        site=clinic.site,
        starts_at=second_at,
        chair=clinic.chairs[1],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    assert a.nurse_id == b.nurse_id
    return a, b


def test_a_lower_ratio_lists_the_sessions_the_nurse_now_has_too_many_of():
    clinic = make_clinic(max_patients_per_nurse=2, setups_per_nurse=2)
    a, b = _two_sessions_one_nurse(clinic, second_at=at_new_york(TUESDAY, 11))
    assert _found(clinic.site) == []
    clinic.site.max_patients_per_nurse = 1
    clinic.site.save()
    found = _found(clinic.site)
    assert [pk for pk, _, _ in found] == [a.pk, b.pk]
    assert {reason for _, reason, _ in found} == {"nurse_at_capacity"}
    assert found[0][2] == "the nurse already has 2 patients at once then (at most 1)"


def test_fewer_setups_at_once_per_nurse_lists_the_sessions_whose_setups_now_collide():
    clinic = make_clinic(max_patients_per_nurse=2, setups_per_nurse=2)
    a, b = _two_sessions_one_nurse(clinic, second_at=at_new_york(TUESDAY, 10))
    assert _found(clinic.site) == []
    clinic.site.setups_per_nurse = 1
    clinic.site.save()
    found = _found(clinic.site)
    assert [pk for pk, _, _ in found] == sorted([a.pk, b.pk])
    assert {reason for _, reason, _ in found} == {"nurse_setup_busy"}


def test_a_protocols_longer_setup_lists_the_sessions_whose_setups_now_overlap():
    """Setups of 20 minutes at 10:00 and 10:30 are apart; a protocol now asking 40 minutes of
    setup puts the first patient's setup over the second's start."""
    clinic = make_clinic(max_patients_per_nurse=2, setups_per_nurse=1)
    protocol = clinic.protocol
    protocol.nurse_check_offsets_minutes = []
    protocol.save()
    a, b = _two_sessions_one_nurse(clinic, second_at=at_new_york(TUESDAY, 10) + dt.timedelta(minutes=30))
    assert _found(clinic.site) == []
    protocol.nurse_setup_minutes = 40
    protocol.save()
    found = _found(clinic.site)
    assert {reason for _, reason, _ in found} == {"nurse_setup_busy"}
    assert {pk for pk, _, _ in found} == {a.pk, b.pk}


def test_only_sessions_ahead_still_booked_at_that_site_within_the_window_are_listed(booked):
    clinic, session = booked
    other = SiteFactory()
    ChairFactory(site=other)
    add_shifts(StaffFactory(role=Role.NURSE, sites=[other]), other, START, 7)
    there = appointment_book(
        patient=PatientFactory(home_site=other),
        site=other,
        starts_at=at_new_york(TUESDAY, 10),
        actor=StaffFactory(role=Role.FRONT_DESK, sites=[other]).user,
        now=NOW,
    )
    later = clinic.plan(start_date=start_plus(21))
    (far,) = clinic.book(later, [at_new_york(start_plus(21), 10)])
    cancelled = clinic.plan()
    (gone,) = clinic.book(cancelled, [at_new_york(TUESDAY, 13)])
    appointment_cancel(appointment=gone, actor=clinic.front_desk.user, now=NOW, reason="Patient unwell")
    Closure.objects.create(
        site=None, starts_at=at_new_york(START, 0), ends_at=at_new_york(start_plus(30), 0), reason="Works"
    )

    assert [pk for pk, _, _ in _found(clinic.site)] == [session.pk, far.pk]
    # Until the day before the later session: only the first.
    assert [pk for pk, _, _ in _found(clinic.site, until=at_new_york(start_plus(20), 0))] == [session.pk]
    # Once the first has begun, it is the desk's to handle on the board, not one to move.
    assert [pk for pk, _, _ in _found(clinic.site, now=at_new_york(TUESDAY, 10) + dt.timedelta(minutes=1))] == [far.pk]
    assert [pk for pk, _, _ in _found(other)] == [there.pk]
    gone.refresh_from_db()
    assert gone.status == AppointmentStatus.CANCELLED


def test_hours_are_the_sites_wall_clock_on_the_day_the_clocks_go_forward():
    """Sunday 29 March 2026 in London: the site opens at 10:00 local (09:00 UTC), so a session at
    09:00 local (08:00 UTC) is before opening, and one at 10:00 local fits."""
    london = ZoneInfo("Europe/London")
    sunday = dt.date(2026, 3, 29)
    clinic = make_clinic(time_zone="Europe/London", hours={d: (dt.time(8), dt.time(18)) for d in range(7)})
    early, later = clinic.plan(start_date=sunday), clinic.plan(start_date=sunday)
    (a,) = clinic.book(early, [dt.datetime.combine(sunday, dt.time(9), tzinfo=london)])
    b = appointment_book(
        patient=later.patient,
        plan=later,
        site=clinic.site,
        starts_at=dt.datetime.combine(sunday, dt.time(12), tzinfo=london),
        chair=clinic.chairs[1],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    OpeningHours.objects.filter(site=clinic.site, weekday=sunday.weekday()).update(opens_at=dt.time(10))
    assert _found(clinic.site) == [(a.pk, "outside_opening_hours", "outside opening hours (10:00–18:00)")]
    assert (a.starts_at, b.starts_at) == (
        dt.datetime(2026, 3, 29, 8, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 29, 11, tzinfo=dt.UTC),
    )


@pytest.mark.django_db(transaction=True)
def test_a_session_booked_while_a_closure_is_added_over_it_is_listed():
    """Booking checks the set-up it reads; a closure committed after that read and before the
    booking's own commit does not stop it. The session is then in the closure, and the list of
    sessions to move names it. (A single session: a plan's booking locks its site row, which the
    closure's insert waits for.)"""
    clinic = make_clinic()
    patient = PatientFactory(home_site=clinic.site)
    checked, closed = threading.Event(), threading.Event()
    real = core.fresh_availability

    def check_then_wait(**kwargs):
        availability = real(**kwargs)
        checked.set()
        assert closed.wait(10)
        return availability

    result: list = []

    def book() -> None:
        try:
            result.append(
                appointment_book(
                    patient=patient,
                    site=clinic.site,
                    starts_at=at_new_york(TUESDAY, 10),
                    chair=clinic.chairs[0],
                    actor=clinic.front_desk.user,
                    now=NOW,
                )
            )
        except Exception as exc:
            result.append(exc)
        finally:
            connections.close_all()

    with mock.patch.object(core, "fresh_availability", check_then_wait):
        booking = threading.Thread(target=book)
        booking.start()
        assert checked.wait(10)
        Closure.objects.create(
            site=clinic.site, starts_at=at_new_york(TUESDAY, 0), ends_at=at_new_york(TUESDAY, 23), reason="Snow"
        )
        closed.set()
        booking.join(30)
    (session,) = result
    assert not isinstance(session, Exception), repr(session)
    assert _found(clinic.site) == [(session.pk, "site_closed", "the site is closed (Snow)")]


def test_the_list_costs_the_same_reads_whatever_the_number_of_sessions(booked, django_assert_max_num_queries):
    clinic, _ = booked
    works = Closure.objects.create(
        site=None, starts_at=at_new_york(TUESDAY, 0), ends_at=at_new_york(start_plus(2), 0), reason="Works"
    )
    with CaptureQueriesContext(connection) as one:
        assert len(_found(clinic.site)) == 1
    for offset in (2, 4, 7):
        plan = clinic.plan(start_date=start_plus(offset))
        clinic.book(plan, [at_new_york(start_plus(offset), 10)])
    works.ends_at = at_new_york(start_plus(30), 0)
    works.save()
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(_found(clinic.site)) == 4
