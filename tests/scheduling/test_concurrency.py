"""Real races on PostgreSQL: many threads, each with its own connection, booking
at the same moment. Exactly the allowed number win; the rest get a conflict."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from clinic.models import Role
from scheduling import services
from scheduling.errors import BookingConflict
from tests.factories import ChairFactory, PatientFactory, StaffFactory
from tests.scheduling.conftest import NOW, START, add_shifts, make_clinic

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 20
SLOT = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)  # 10:00 in New York


def _race(book_one) -> tuple[int, list[str]]:
    barrier = threading.Barrier(THREADS)
    wins: list[int] = []
    conflicts: list[str] = []
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait()
            book_one(index)
            wins.append(index)
        except BookingConflict as exc:
            conflicts.append(exc.message)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return len(wins), conflicts


def _overlapping_pairs(sql_filter: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*) FROM scheduling_appointment a JOIN scheduling_appointment b
              ON a.id < b.id AND {sql_filter}
             AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
            WHERE a.status NOT IN ('cancelled', 'no_show') AND b.status NOT IN ('cancelled', 'no_show')
            """
        )
        return cursor.fetchone()[0]


def test_twenty_bookings_of_one_chair_at_one_time_yield_one_winner():
    # One nurse per thread, so the nurse locks do not serialise them: the exclusion constraint decides.
    clinic = make_clinic(chairs=1, nurses=THREADS)
    patients = [PatientFactory(home_site=clinic.site) for _ in range(THREADS)]
    chair = clinic.chairs[0]

    def book(index: int) -> None:
        services.appointment_book(
            patient=patients[index],
            site=clinic.site,
            starts_at=SLOT,
            chair=chair,
            nurse=clinic.nurses[index],
            actor=None,
            now=NOW,
        )

    winners, conflicts = _race(book)
    assert winners == 1
    assert len(conflicts) == THREADS - 1
    assert all("chair" in message for message in conflicts)
    assert _overlapping_pairs("a.chair_id = b.chair_id") == 0


def test_a_nurse_at_her_ratio_takes_no_more_patients_under_a_race():
    # Setups may coincide here (three per nurse), so only the monitoring ratio refuses.
    clinic = make_clinic(chairs=THREADS, nurses=1, setups_per_nurse=3)
    nurse = clinic.nurses[0]
    patients = [PatientFactory(home_site=clinic.site) for _ in range(THREADS)]

    def book(index: int) -> None:
        services.appointment_book(
            patient=patients[index],
            site=clinic.site,
            starts_at=SLOT,
            chair=clinic.chairs[index],
            nurse=nurse,
            actor=None,
            now=NOW,
        )

    winners, conflicts = _race(book)
    assert winners == clinic.site.max_patients_per_nurse == 3
    assert all("nurse already has 3 patients" in message for message in conflicts)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM scheduling_appointment WHERE nurse_id = %s AND status = 'booked'", [nurse.pk]
        )
        assert cursor.fetchone()[0] == 3


def test_twenty_whole_courses_racing_for_few_chairs_never_overlap():
    clinic = make_clinic(chairs=2, nurses=2)
    extra = StaffFactory(role=Role.NURSE, sites=[clinic.site])
    add_shifts(extra, clinic.site, START, 60)
    ChairFactory(site=clinic.site, name="Chair X")
    plans = [clinic.plan() for _ in range(THREADS)]
    proposals = [services.course_propose(plan=plan, start_date=START, now=NOW).sessions for plan in plans]

    def book(index: int) -> None:
        services.course_book(plan=plans[index], actor=None, now=NOW, sessions=proposals[index])

    winners, conflicts = _race(book)
    # Every plan saw the same free chairs, so the proposals collide: some win, the rest book nothing.
    assert winners >= 1 and winners + len(conflicts) == THREADS
    assert _overlapping_pairs("a.chair_id = b.chair_id") == 0
    assert _overlapping_pairs("a.patient_id = b.patient_id") == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT plan_id, count(*) FROM scheduling_appointment GROUP BY plan_id")
        assert all(count == 6 for _, count in cursor.fetchall()), "a course was half booked"


def test_setups_that_collide_for_the_only_nurse_book_once_under_a_race():
    # Twenty chairs and room for three patients under the ratio, but one nurse sets up one patient
    # at a time (the site's default): of twenty sessions starting together, exactly one is booked.
    clinic = make_clinic(chairs=THREADS, nurses=1)
    nurse = clinic.nurses[0]
    patients = [PatientFactory(home_site=clinic.site) for _ in range(THREADS)]

    def book(index: int) -> None:
        # Every start falls inside another's 20-minute setup: 10:00, 10:05, 10:10, 10:15 ...
        services.appointment_book(
            patient=patients[index],
            site=clinic.site,
            starts_at=SLOT + dt.timedelta(minutes=5 * (index % 4)),
            chair=clinic.chairs[index],
            nurse=nurse,
            actor=None,
            now=NOW,
        )

    winners, conflicts = _race(book)
    assert winners == 1
    assert all("busy setting up, checking or discharging" in message for message in conflicts)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scheduling_appointment WHERE nurse_id = %s", [nurse.pk])
        assert cursor.fetchone()[0] == 1
