"""Benchmark: proposing and booking a 6-session induction course in a busy clinic.

A site with 12 chairs, 20 staff and 10,000 booked appointments over six months,
on PostgreSQL (database `clinic_bench`, recreated each run). Prints median, p95
and query counts; exits non-zero when a target is missed:
  - propose a full course: p95 < 50 ms, under each placement policy (earliest and level,
    printed side by side)
  - the query count of a proposal does not grow with the number of appointments
  - book a whole course: p95 < 100 ms
Beside the wall clock each proposal series shows the process's own CPU time and in how many
counted proposals a full garbage collection ran (and its longest pause): on a shared machine
both tell the engine's cost from time spent waiting. The bench starts as the web process does
(`import config.wsgi`), so the application loaded at start-up is frozen out of full collections
(`gc.freeze()`) here as under gunicorn.

With `--size N` it proposes courses on the data set of bench/booking_scale.py instead
(one site, 12 chairs, 14 nurses, N past appointments, 40 % of the chair-hours booked over
the 60 days ahead): built once by booking_scale's generator into a database of this bench's
own (`<BENCH_DB>_propose_<N>`, reused while present; `--rebuild` drops it) and measured on a
throw-away copy (`CREATE DATABASE ... TEMPLATE`). Each proposal is for a new patient, start
dates spread over the first four weeks, under each placement policy on the same data (the
site's `placement_policy` switched between the two series); p95 < 50 ms for each. No
bookings are measured there (booking_scale measures them at every size).

Run: .venv/bin/python bench/scheduling_engine.py                  # 10,000 appointments
     .venv/bin/python bench/scheduling_engine.py --size 100000    # booking_scale's 100k set
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
BENCH_DB = os.environ.get("BENCH_DB", "clinic_bench")
ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--size", type=int, help="propose on bench/booking_scale.py's data set of this many past appointments"
    )
    parser.add_argument("--rebuild", action="store_true", help="with --size: drop and rebuild the data set")
    parser.add_argument("--runs", type=int, default=60, help="proposals measured per placement policy")
    return parser.parse_args()


ARGS = arguments()

import psycopg2  # noqa: E402


def recreate_database() -> None:
    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {BENCH_DB}")
    conn.close()


if ARGS.size:
    import booking_scale

    booking_scale.PG = ADMIN_URL.rsplit("/", 1)[0]
    booking_scale.template_name = lambda size: f"{BENCH_DB}_propose_{size}"  # this bench's own data sets
    RUN_DB, BUILT = booking_scale.run_copy(ARGS.size, ARGS.rebuild)
else:
    RUN_DB = BENCH_DB
    recreate_database()
os.environ["DATABASE_URL"] = ADMIN_URL.rsplit("/", 1)[0] + "/" + RUN_DB
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from zoneinfo import ZoneInfo  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from seed import bench_patients, evaluated_patient  # noqa: E402

import config.wsgi  # noqa: E402,F401 - the web process's start-up, its gc.freeze() included
from clinic.models import Chair, OpeningHours, ReminderPolicy, Role, Shift, Site, StaffMember  # noqa: E402
from scheduling import services  # noqa: E402
from scheduling.errors import SchedulingError  # noqa: E402
from scheduling.models import Appointment, DayPlan, Protocol, TreatmentPlan  # noqa: E402
from scheduling.services.day_plans import PLAN_HORIZON_DAYS  # noqa: E402
from scheduling.services.day_template import day_template_regenerate  # noqa: E402

ZONE = ZoneInfo("America/Chicago")
FIRST_DAY = dt.date(2027, 1, 4)
DAYS = 182
TARGET_APPOINTMENTS = 10_000
PROPOSE_P95_MS = 50.0
# Level with the site's day template and its day plans in place.
LEVEL_PLANNED = "level+plans"
BOOK_P95_MS = 100.0


def build_site(
    name: str, *, chairs: int, nurses: int, other_staff: int, appointments: int
) -> tuple[Site, Protocol, StaffMember]:
    site = Site.objects.create(name=name, time_zone=str(ZONE), address="1 Bench Way", phone="+13125550100")
    ReminderPolicy.objects.get_or_create(site=site)
    for weekday in range(6):
        OpeningHours.objects.create(site=site, weekday=weekday, opens_at=dt.time(7), closes_at=dt.time(19))
    chair_rows = Chair.objects.bulk_create(
        Chair(site=site, name=f"Chair {i + 1:02d}", equipment=["iv"]) for i in range(chairs)
    )
    User = get_user_model()
    staff = []
    for index in range(nurses + other_staff):
        user = User.objects.create(username=f"{name[:4].lower()}-staff{index}")
        role = Role.NURSE if index < nurses else (Role.PRESCRIBER if index % 2 else Role.FRONT_DESK)
        member = StaffMember.objects.create(user=user, role=role)
        member.sites.add(site)
        staff.append(member)
    nurse_rows = staff[:nurses]
    prescriber = next(s for s in staff if s.role == Role.PRESCRIBER)
    days = [FIRST_DAY + dt.timedelta(days=i) for i in range(DAYS)]
    Shift.objects.bulk_create(
        Shift(
            staff=nurse,
            site=site,
            starts_at=dt.datetime.combine(day, dt.time(6, 30), tzinfo=ZONE),
            ends_at=dt.datetime.combine(day, dt.time(19, 30), tzinfo=ZONE),
        )
        for nurse in nurse_rows
        for day in days
        if day.weekday() < 6
    )
    patients = bench_patients(site, max(appointments // 6, 1), last_name=name + "-{}", email="p{}@example.org")
    # Fill the chairs cell by cell (day, start, chair) so nothing overlaps; spread nurses round-robin.
    cells = [
        (day, hour, chair)
        for day in days
        if day.weekday() < 6
        for hour in (7, 9, 11, 13, 15, 17)
        for chair in chair_rows
    ]
    step = len(cells) / max(appointments, 1)
    rows = []
    for index in range(appointments):
        day, hour, chair = cells[int(index * step)]
        start = dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE)
        rows.append(
            Appointment(
                patient=patients[index % len(patients)],
                site=site,
                chair=chair,
                nurse=nurse_rows[index % len(nurse_rows)],
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=120),
            )
        )
    Appointment.objects.bulk_create(rows, batch_size=2000)
    protocol, _ = Protocol.objects.get_or_create(
        name="IV ketamine, six in three weeks",
        defaults={
            "induction_pattern": "window",
            "induction_sessions": 6,
            "induction_window_days": 21,
            "min_gap_hours": 48,
        },
    )
    return site, protocol, prescriber


def new_plan(site: Site, protocol: Protocol, prescriber: StaffMember, index: int, start: dt.date) -> TreatmentPlan:
    patient = evaluated_patient(site, prescriber, first_name="New", last_name=f"Patient {index}", start=start)
    return services.plan_create(
        patient=patient, protocol=protocol, prescriber=prescriber, start_date=start, actor=prescriber.user
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


CPU_MS: dict[str, list[float]] = {}
# Milliseconds of full (generation 2) garbage collections inside each counted proposal: a full
# collection walks every object of the loaded application, tens of milliseconds on a busy
# machine, and lands in whichever proposal happens to trigger it.
FULL_GC_MS: dict[str, list[float]] = {}
_full_gc = {"total": 0.0, "began": 0.0}


def _time_full_collections(phase: str, info: dict) -> None:
    if info["generation"] != 2:
        return
    if phase == "start":
        _full_gc["began"] = time.perf_counter()
    else:
        _full_gc["total"] += (time.perf_counter() - _full_gc["began"]) * 1000


gc.callbacks.append(_time_full_collections)


def measure_proposals(
    site,
    protocol,
    prescriber,
    runs: int,
    label: str,
    policy: str = "earliest",
    *,
    first_day: dt.date = FIRST_DAY,
    start_day: Callable[[int], int] = lambda index: 7 + (index * 5) % 120,
    series: str | None = None,
) -> tuple[list[float], set[int]]:
    """Wall-clock milliseconds per proposal (and, in CPU_MS, this process's CPU milliseconds:
    on a shared machine the wall clock also counts time spent waiting for a core). Proposal
    `index` starts `start_day(index)` days after `first_day`; "now" is the day before it."""
    now = dt.datetime.combine(first_day - dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    timings, query_counts = [], set()
    series = series or policy
    cpu = CPU_MS.setdefault(f"{label} {series}", [])
    full_gc = FULL_GC_MS.setdefault(f"{label} {series}", [])
    Site.objects.filter(pk=site.pk).update(placement_policy=policy)
    offset = {"earliest": 0, "level": 50_000, LEVEL_PLANNED: 70_000}[series]
    for index in range(runs):
        start = first_day + dt.timedelta(days=start_day(index))
        plan = new_plan(site, protocol, prescriber, offset + index + (0 if label == "busy" else 10_000), start)
        plan = TreatmentPlan.objects.select_related("protocol", "site", "patient").get(pk=plan.pk)
        with CaptureQueriesContext(connection) as queries:
            began, began_cpu, began_gc = time.perf_counter(), time.process_time(), _full_gc["total"]
            services.course_propose(plan=plan, start_date=start, now=now)
            elapsed = (time.perf_counter() - began) * 1000
            elapsed_cpu = (time.process_time() - began_cpu) * 1000
        if index or label != "busy":  # the very first proposal also prepares the hot statements
            timings.append(elapsed)
            cpu.append(elapsed_cpu)
            full_gc.append(_full_gc["total"] - began_gc)
            query_counts.add(len(queries))
    return timings, query_counts


def measure_bookings(site, protocol, prescriber, runs: int) -> tuple[list[float], set[int], int]:
    now = dt.datetime.combine(FIRST_DAY - dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    timings, query_counts, failures = [], set(), 0
    for index in range(runs):
        start = FIRST_DAY + dt.timedelta(days=10 + (index * 3) % 120)
        plan = new_plan(site, protocol, prescriber, 20_000 + index, start)
        proposal = services.course_propose(plan=plan, start_date=start, now=now)
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            try:
                services.course_book(plan=plan, actor=prescriber.user, now=now, sessions=proposal.sessions)
            except SchedulingError as exc:
                failures += 1
                print(f"  booking {index} failed: {exc.message}")
                continue
            timings.append((time.perf_counter() - began) * 1000)
        query_counts.add(len(queries))
    return timings, query_counts, failures


def print_policies(figures: dict[str, tuple[list[float], set[int], set[int] | None]], runs: int) -> None:
    print(f"\nPropose a 6-session induction course ({runs} runs per placement policy)")
    queries = "queries (busy / quiet)" if any(quiet for _, _, quiet in figures.values()) else "queries"
    print(
        f"  {'policy':<12} {'median':>9} {'p95':>9}   {'CPU median':>10} {'CPU p95':>9}   {'full GC in':>18}"
        f"   {queries}   target p95 < {PROPOSE_P95_MS:.0f} ms"
    )
    for policy, (propose_ms, busy_queries, quiet_queries) in figures.items():
        cpu = CPU_MS[f"busy {policy}"]
        collected = [ms for ms in FULL_GC_MS[f"busy {policy}"] if ms]
        full_gc = f"{len(collected)} runs, <= {max(collected, default=0):.0f} ms"
        counted = f"{sorted(busy_queries)}" + (f" / {sorted(quiet_queries)}" if quiet_queries else "")
        print(
            f"  {policy:<12} {statistics.median(propose_ms):>6.1f} ms {percentile(propose_ms, 0.95):>6.1f} ms"
            f"   {statistics.median(cpu):>7.1f} ms {percentile(cpu, 0.95):>6.1f} ms   {full_gc:>18}   {counted}"
        )


def print_load() -> None:
    one, five, fifteen = os.getloadavg()
    print(
        f"measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {one:.2f} {five:.2f} {fifteen:.2f}"
    )


def main_at_scale(size: int, runs: int) -> int:
    """Course proposals on booking_scale's data set (a copy of it), under both policies."""
    print(f"Measuring on {RUN_DB} (migrate) …", flush=True)
    call_command("migrate", verbosity=0)  # the data set may predate this branch's migrations
    # Migrating leaves the migration graph's states as garbage, which the first full collection of
    # the measured proposals would walk (up to 58 ms); the web process never migrates in process.
    gc.collect()
    site = Site.objects.get(name=f"Scale {size} v{booking_scale.DATA_VERSION}")
    protocol = Protocol.objects.get(name="IV ketamine, six in three weeks")
    prescriber = StaffMember.objects.filter(role=Role.PRESCRIBER, sites=site).order_by("pk").first()
    booked = Appointment.objects.filter(site=site).count()
    ahead = Appointment.objects.filter(site=site, starts_at__gte=booking_scale._local(booking_scale.FUTURE, 0)).count()
    print(
        f"Site: {site.chairs.count()} chairs, {StaffMember.objects.filter(sites=site).count()} staff, "
        f"{booked:,} appointments ({ahead:,} booked ahead); starts over the 28 days from {booking_scale.FUTURE}"
    )
    figures: dict[str, tuple[list[float], set[int], set[int] | None]] = {}
    for policy in ("earliest", "level"):
        propose_ms, queries = measure_proposals(
            site,
            protocol,
            prescriber,
            runs + 1,  # the first of each series prepares its statements and is not counted
            "busy",
            policy,
            first_day=booking_scale.FUTURE,
            start_day=lambda index: (index * 5) % 28,  # every day of four weeks, in a scattered order
        )
        figures[policy] = (propose_ms, queries, None)
    # Level as a clinic runs it: the site's day template and a day plan for every coming day of
    # the plans' horizon, which placement reads too. The bench writes each day's plan itself, as
    # the template's starts, each with a nurse: the size and shape of a real plan, without
    # solving 42 days (this site, with more nurses than chairs, has a template whose starts name
    # their nurse's shift, and the service would solve its days per nurse).
    now = dt.datetime.combine(booking_scale.FUTURE - dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    made = day_template_regenerate(site=site, actor=prescriber.user, now=now)
    nurses = list(StaffMember.objects.filter(role=Role.NURSE, sites=site).order_by("pk").values_list("pk", flat=True))
    DayPlan.objects.filter(site=site).delete()
    DayPlan.objects.bulk_create(
        DayPlan(
            site=site,
            day=booking_scale.FUTURE + dt.timedelta(days=offset),
            template=made,
            starts=[
                {"chair_id": e["chair_id"], "start": e["start"], "minutes": 120, "nurse_id": nurses[i % len(nurses)]}
                for i, e in enumerate(made.starts)
            ],
            computed_at=now,
        )
        for offset in range(PLAN_HORIZON_DAYS)
    )
    print(
        f"Day template: {made.sessions_per_day} a day ({made.solver_status}); {PLAN_HORIZON_DAYS} day plans", flush=True
    )
    gc.collect()
    propose_ms, queries = measure_proposals(
        site,
        protocol,
        prescriber,
        runs + 1,
        "busy",
        "level",
        first_day=booking_scale.FUTURE,
        start_day=lambda index: (index * 5) % 28,
        series=LEVEL_PLANNED,
    )
    figures[LEVEL_PLANNED] = (propose_ms, queries, None)
    print_policies(figures, runs)
    print(f"  ({booked:,} appointments at the site)")
    print_load()
    missed = [
        f"proposal p95 ({policy}) {percentile(propose_ms, 0.95):.1f} ms"
        for policy, (propose_ms, _, _) in figures.items()
        if percentile(propose_ms, 0.95) >= PROPOSE_P95_MS
    ]
    if missed:
        print("\nMISSED: " + ", ".join(missed))
        return 1
    print("\nAll targets met.")
    return 0


def main() -> int:
    if ARGS.size:
        try:
            return main_at_scale(ARGS.size, ARGS.runs)
        finally:
            connection.close()
            booking_scale._drop(RUN_DB)
    runs = ARGS.runs
    print(f"Setting up {BENCH_DB}: migrate and seed …", flush=True)
    call_command("migrate", verbosity=0)
    busy_site, protocol, prescriber = build_site(
        "Busy", chairs=12, nurses=14, other_staff=6, appointments=TARGET_APPOINTMENTS
    )
    quiet_site, _, quiet_prescriber = build_site("Quiet", chairs=12, nurses=14, other_staff=6, appointments=100)
    booked = Appointment.objects.filter(site=busy_site).count()
    staff = StaffMember.objects.filter(sites=busy_site).count()
    print(f"Busy site: {busy_site.chairs.count()} chairs, {staff} staff, {booked} appointments over {DAYS} days")

    figures: dict[str, tuple[list[float], set[int], set[int] | None]] = {}
    for policy in ("earliest", "level"):
        propose_ms, busy_queries = measure_proposals(busy_site, protocol, prescriber, runs, "busy", policy)
        _, quiet_queries = measure_proposals(quiet_site, protocol, quiet_prescriber, 10, "quiet", policy)
        figures[policy] = (propose_ms, busy_queries, quiet_queries)
    book_ms, book_queries, failures = measure_bookings(busy_site, protocol, prescriber, 40)

    book_p95 = percentile(book_ms, 0.95)
    print_policies(figures, runs)
    print(f"  ({booked} appointments at the busy site, 100 at the quiet one)")
    print("Book a whole 6-session course (40 runs)")
    print(f"  median {statistics.median(book_ms):.1f} ms   p95 {book_p95:.1f} ms   target p95 < {BOOK_P95_MS:.0f} ms")
    print(f"  queries per booking: {sorted(book_queries)}   failed bookings: {failures}")
    print_load()

    missed = []
    for policy, (propose_ms, busy_queries, quiet_queries) in figures.items():
        if percentile(propose_ms, 0.95) >= PROPOSE_P95_MS:
            missed.append(f"proposal p95 ({policy})")
        if quiet_queries and max(busy_queries) > max(quiet_queries):
            missed.append(f"proposal query count grows with appointments ({policy})")
    if book_p95 >= BOOK_P95_MS:
        missed.append("booking p95")
    if failures:
        missed.append("bookings failed")
    connection.close()
    recreate_database()
    if missed:
        print("\nMISSED: " + ", ".join(missed))
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
