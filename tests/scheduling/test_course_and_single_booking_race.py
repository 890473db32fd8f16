"""A whole course and a single session booked at the same moment, at one site and time, for one
nurse (real PostgreSQL, two threads): together they would break the nurse's monitoring ratio or
her one-setup-at-a-time rule, so exactly one is booked. Both bookings check under the same lock,
the nurse's row (scheduling.services.core.lock_for_booking, from verify_slots), taken before the
availability they check is read. The read is slowed here, so without that lock both would read
the nurse free and both be booked.

And the two locks every booking takes, its patient's and its nurses', are taken in one order:
the patient first (a course locks its plan and patient before it knows its nurses), so a course
and a single session booked for the same patient at once wait for each other, never deadlock."""

from __future__ import annotations

import datetime as dt
import time
from unittest import mock

import pytest
from django.db import connection

from scheduling import services
from scheduling.errors import BookingConflict
from scheduling.services import core, courses
from tests.at_once import at_once
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, START, make_clinic

pytestmark = pytest.mark.django_db(transaction=True)

# Long enough that a booking not waiting for the other's lock reads before the other inserts.
READ_DELAY_SECONDS = 0.5


def _slow_reads():
    read = core.fresh_availability

    def slowly(**kwargs):
        availability = read(**kwargs)
        time.sleep(READ_DELAY_SECONDS)
        return availability

    return mock.patch.object(core, "fresh_availability", slowly)


def _race(clinic, *, single_after: dt.timedelta) -> tuple[list, int]:
    """The course (first session at its proposed time) against one session for another patient
    with the course's first nurse, on another chair, `single_after` the course's first start."""
    plan = clinic.plan()
    sessions = services.course_propose(plan=plan, start_date=START, now=NOW).sessions
    first = sessions[0]
    other_chair = next(chair for chair in clinic.chairs if chair.pk != first.chair_id)
    patient = PatientFactory(home_site=clinic.site)
    nurse = next(n for n in clinic.nurses if n.pk == first.nurse_id)

    def course():
        return services.course_book(plan=plan, actor=None, now=NOW, sessions=sessions)

    def single():
        return services.appointment_book(
            patient=patient,
            site=clinic.site,
            starts_at=first.starts_at + single_after,
            chair=other_chair,
            nurse=nurse,
            actor=None,
            now=NOW,
        )

    with _slow_reads():
        results = at_once(course, single)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM scheduling_appointment WHERE nurse_id = %s AND starts_at < %s AND ends_at > %s",
            [nurse.pk, first.ends_at, first.starts_at],
        )
        at_that_time = cursor.fetchone()[0]
    return results, at_that_time


def _one_booked_one_refused(results: list, wording: str) -> None:
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1, results
    assert isinstance(refused[0], BookingConflict), refused[0]
    assert wording in refused[0].message


def test_a_course_and_a_single_session_racing_past_the_nurse_ratio_book_once():
    # One patient per nurse at a time; setups may coincide (three at once), so only the ratio refuses.
    clinic = make_clinic(chairs=3, nurses=1, max_patients_per_nurse=1, setups_per_nurse=3)
    results, at_that_time = _race(clinic, single_after=dt.timedelta(0))
    _one_booked_one_refused(results, "nurse already has 1 patient ")
    assert at_that_time == 1


def test_a_course_and_a_single_session_racing_into_one_setup_book_once():
    # Room for three patients under the ratio, but the nurse sets up one patient at a time (the
    # site's default): a session starting five minutes into the other's setup is refused.
    clinic = make_clinic(chairs=3, nurses=1)
    results, at_that_time = _race(clinic, single_after=dt.timedelta(minutes=5))
    _one_booked_one_refused(results, "busy setting up, checking or discharging")
    assert at_that_time == 1


def test_a_course_and_a_single_session_for_the_same_patient_at_once_do_not_deadlock():
    # The course holds its patient's lock while it checks its rules (slowed here); the single
    # session, for a day without a course session and with the same nurse, reaches its locks
    # meanwhile. Patient before nurse on both sides: it waits for the course and is then booked.
    clinic = make_clinic(chairs=3, nurses=1, setups_per_nurse=3)
    plan = clinic.plan()
    sessions = services.course_propose(plan=plan, start_date=START, now=NOW).sessions
    course_days = {s.starts_at.date() for s in sessions}
    other_day = next(
        starts
        for starts in (sessions[0].starts_at + dt.timedelta(days=n) for n in range(1, 30))
        if starts.date() not in course_days and starts.weekday() < 5
    )
    check_rules = courses.check_course_rules

    def slowly_checked(**kwargs):
        time.sleep(1.0)
        return check_rules(**kwargs)

    def course():
        return services.course_book(plan=plan, actor=None, now=NOW, sessions=sessions)

    def single():
        time.sleep(0.3)  # the course has locked the plan and patient by now
        return services.appointment_book(
            patient=plan.patient, site=clinic.site, starts_at=other_day, nurse=clinic.nurses[0], actor=None, now=NOW
        )

    with mock.patch.object(courses, "check_course_rules", slowly_checked):
        booked_course, booked_single = at_once(course, single)
    assert not isinstance(booked_course, BaseException), booked_course
    assert not isinstance(booked_single, BaseException), booked_single
    assert len(booked_course) == len(sessions)
    assert booked_single.starts_at == other_day
