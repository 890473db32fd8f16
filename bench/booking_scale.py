"""Booking and free-slot cost as the appointment history grows: 1,000, 10,000 and 100,000.

For each size a data set is built once into its own PostgreSQL database
(`clinic_bench_scale_<size>`, reused while present; `--rebuild` drops it): one site,
America/Chicago, open 07:00-19:00 every day, 12 chairs, 14 nurses and 6 other staff,
`size` past appointments (two-hour sessions, back to back over as many days as it takes)
with one history row and four sent reminder rows each, a patient per ten appointments,
and the same future load at every size (40 % of the chair-hours over 60 days).
The rows are generated inside PostgreSQL (INSERT ... SELECT generate_series), so the
100,000 set builds in well under a minute.

Each run measures a throw-away copy (`CREATE DATABASE ... TEMPLATE`), so nothing leaks
from one run into the next:

  - free slots for all 12 chairs over a week, in process (site read, snapshot, engine):
    median/p95 and statements;
  - proposing a 6-session course (`services.course_propose`): p95 and statements;
  - one HTTP booking's statements and commits (token auth, Idempotency-Key, reminders
    written, access log), counted in process through the whole middleware stack;
  - HTTP booking latency: one client, sequential, against gunicorn (4 workers);
  - 8 concurrent HTTP clients against gunicorn (4 workers) for a bounded time and count,
    a tenth of the cells asked for twice; afterwards the database is checked for
    overlapping chairs or patients and for nurses over their limit.

Prints the cost curve and exits 1 when a target is missed (see TARGETS). Only
127.0.0.1 is used.

    .venv/bin/python bench/booking_scale.py                 # all three sizes
    .venv/bin/python bench/booking_scale.py --sizes 1000    # one size
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import server
from seed import bench_patients, evaluated_patient

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
SIZES = (1_000, 10_000, 100_000)
DATA_VERSION = "1"  # bump when the generated data changes shape

ZONE = ZoneInfo("America/Chicago")
HISTORY_END = dt.date(2026, 11, 1)  # the past appointments end here
FUTURE = dt.date(2027, 3, 1)  # a Monday: the bench books from here on
FUTURE_DAYS = 60
STARTS = (7, 9, 11, 13, 15, 17)  # two-hour sessions, local
CHAIRS = 12
NURSES = 14
OTHER_STAFF = 6
WARM_BOOKINGS = 24  # over HTTP before the timed ones, so each gunicorn worker has booked a few

TARGETS = {
    "booking_p95_ms": 20.0,
    "booking_statements": 15,
    "booking_commits": 1,
    "concurrent_bookings_per_s": 80.0,
    "free_slots_p95_ms": 15.0,
    "propose_p95_ms": 20.0,
    "growth": 1.3,  # largest size / smallest size, free-slot statements and time
}

CHILD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_SECRET_KEY": "bench-only-secret",
    "DJANGO_DEBUG": "false",
    "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on 127.0.0.1, as behind a TLS proxy
    "API_THROTTLE_USER": "1000000/min",
    "DJANGO_LOG_LEVEL": "ERROR",  # not a line per expected 409
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
}


# --- token auth in one place -------------------------------------------------


def api_token(user) -> str:
    """An expiring, hashed API token (knox) for `user`, issued the way the token endpoint issues it."""
    from clinic.security.services import token_issue

    return token_issue(user=user)[0]


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


# --- databases -----------------------------------------------------------------


def _admin():
    import psycopg2

    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    return conn


def _exists(name: str) -> bool:
    with _admin() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def _drop(name: str) -> None:
    conn = _admin()
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def _create(name: str, template: str | None = None) -> None:
    conn = _admin()
    with conn.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    conn.close()


def template_name(size: int) -> str:
    return f"clinic_bench_scale_{size}"


def _child(args: list[str], database: str) -> dict:
    env = {**os.environ, **CHILD_ENV, "DATABASE_URL": f"{PG}/{database}"}
    done = subprocess.run(
        [sys.executable, __file__, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def ensure_template(size: int, rebuild: bool) -> float | None:
    """Build the size's data set unless a complete one is there; the build time, or None if reused."""
    name = template_name(size)
    if rebuild:
        _drop(name)
    if _exists(name):
        try:
            if _child(["--check", str(size)], name).get("version") == DATA_VERSION:
                return None
        except subprocess.CalledProcessError:
            pass
        _drop(name)
    _create(name)
    began = time.perf_counter()
    try:
        _child(["--build", str(size)], name)
    except BaseException:
        _drop(name)
        raise
    return time.perf_counter() - began


# --- building a data set (child process) ---------------------------------------


def run_copy(size: int, rebuild: bool, *, end: str = "\n") -> tuple[str, float | None]:
    """A fresh copy of the `size` data set to measure on (built first when missing or `rebuild`):
    its database name, and how long the build took (None: reused). Drop it with `_drop`."""
    print(f"{size:,} appointments: data set …", end=" ", flush=True)
    built = ensure_template(size, rebuild)
    print("reused" if built is None else f"built in {built:.1f} s", end=end, flush=True)
    run = f"{template_name(size)}_run"
    _drop(run)
    _create(run, template=template_name(size))
    return run, built


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    # Start as the web process does (config/wsgi.py), its gc.freeze() included, so what is measured
    # in process sees the garbage collector the server sees.
    import config.wsgi  # noqa: F401


def _local(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE)


def build(size: int) -> dict:
    _setup_django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from clinic.models import Chair, OpeningHours, ReminderPolicy, Role, Shift, Site, StaffMember
    from patients.models import Patient
    from scheduling.models import Appointment, Protocol, Reminder

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    history_days = -(-size // (len(STARTS) * CHAIRS))
    first_day = HISTORY_END - dt.timedelta(days=history_days)
    with transaction.atomic():
        site = Site.objects.create(
            name=f"Scale {size} v{DATA_VERSION}", time_zone=str(ZONE), address="1 Bench Way", phone="+13125550100"
        )
        ReminderPolicy.objects.get_or_create(site=site)  # the site got one when it was saved
        OpeningHours.objects.bulk_create(
            OpeningHours(site=site, weekday=d, opens_at=dt.time(7), closes_at=dt.time(19)) for d in range(7)
        )
        chairs = Chair.objects.bulk_create(
            Chair(site=site, name=f"Chair {i + 1:02d}", equipment=["iv"]) for i in range(CHAIRS)
        )
        staff = []
        for index in range(NURSES + OTHER_STAFF):
            role = Role.NURSE if index < NURSES else (Role.PRESCRIBER if index % 2 else Role.FRONT_DESK)
            user = user_model.objects.create_user(username=f"scale-{index}", password=None)
            member = StaffMember.objects.create(user=user, role=role)
            member.sites.add(site)
            staff.append(member)
        nurses = staff[:NURSES]
        days = [first_day + dt.timedelta(days=i) for i in range(history_days)]
        days += [FUTURE + dt.timedelta(days=i) for i in range(FUTURE_DAYS + 30)]
        Shift.objects.bulk_create(
            (
                Shift(staff=n, site=site, starts_at=_local(day, 6), ends_at=_local(day, 20))
                for n in nurses
                for day in days
            ),
            batch_size=5000,
        )
        patients = bench_patients(
            site,
            max(size // 10, 1),
            last_name="History {}",
            email="h{}@example.org",
            reminder_consent=True,
            batch_size=5000,
        )
        Protocol.objects.get_or_create(
            name="IV ketamine, six in three weeks",
            defaults={
                "induction_pattern": "window",
                "induction_sessions": 6,
                "induction_window_days": 21,
                "min_gap_hours": 48,
            },
        )
        chair_ids = [c.pk for c in chairs]
        nurse_ids = [n.pk for n in nurses]
        patient_ids = [p.pk for p in patients]
        per_day = len(STARTS) * CHAIRS
        cells = {"per_day": per_day, "chairs": chair_ids, "nurses": nurse_ids, "patients": patient_ids, "site": site.pk}
        with connection.cursor() as cursor:
            # History: `size` completed sessions, cell by cell (day, start, chair). Nurse i
            # takes chair i, one patient at a time; patients rotate so none overlaps itself.
            _insert_appointments(
                cursor,
                Appointment,
                where="g < %(size)s",
                params={
                    **cells,
                    "size": size,
                    "first": dt.datetime.combine(first_day, dt.time(0), tzinfo=ZONE),
                    "status": "completed",
                    "count": size,
                },
            )
            # The same future load at every size: 40 % of the cells over FUTURE_DAYS.
            future_cells = FUTURE_DAYS * per_day
            _insert_appointments(
                cursor,
                Appointment,
                where="g %% 5 < 2",
                params={
                    **cells,
                    "size": future_cells,
                    "first": dt.datetime.combine(FUTURE, dt.time(0), tzinfo=ZONE),
                    "status": "booked",
                    "count": future_cells,
                },
            )
            _insert_history(cursor, Appointment)
            _insert_reminders(cursor, Appointment, Reminder)
        connection.cursor().execute("ANALYZE")
    counts = {
        "appointments": Appointment.objects.count(),
        "history": Appointment.history.count(),
        "reminders": Reminder.objects.count(),
        "patients": Patient.objects.count(),
        "shifts": Shift.objects.count(),
    }
    return {"version": DATA_VERSION, **counts}


def _insert_appointments(cursor, model, *, where: str, params: dict) -> None:
    """Cells g = 0.. in (day, start, chair) order; `where` picks which cells are taken.
    Local 07:00 + 2h * start index, in the site's zone, computed by PostgreSQL."""
    table = model._meta.db_table
    cursor.execute(
        f"""
        INSERT INTO {table} (patient_id, plan_id, sequence, phase, induction_round, site_id, chair_id, nurse_id,
            starts_at, ends_at, status, ride_home, notes, rule_override_reason, cancellation_reason, cancelled_at,
            cancelled_by_id, booked_by_id, confirmed_at, checked_in_at, in_chair_at, completed_at, created_at, updated_at,
            calendar_sequence, route)
        SELECT (%(patients)s::bigint[])[1 + (g / %(per_day)s * 7 + g) %% cardinality(%(patients)s::bigint[])],
            NULL, NULL, 'induction', 1, %(site)s,
            (%(chairs)s::bigint[])[1 + g %% {CHAIRS}], (%(nurses)s::bigint[])[1 + g %% {CHAIRS}],
            s, s + interval '2 hours', %(status)s, '', '', '', '', NULL, NULL, NULL, NULL, NULL, NULL,
            CASE WHEN %(status)s = 'completed' THEN s + interval '2 hours' END, s - interval '7 days', s, 0, ''
        FROM generate_series(0, %(count)s - 1) AS g,
            LATERAL (SELECT ((%(first)s::timestamptz AT TIME ZONE 'America/Chicago')::date + (g / %(per_day)s)::int
                     + make_interval(hours => 7 + 2 * ((g %% %(per_day)s) / {CHAIRS})::int))
                     AT TIME ZONE 'America/Chicago' AS s) AS slot
        WHERE {where}
        """,
        params,
    )


def _insert_history(cursor, model) -> None:
    """One '+' history row per appointment, as bulk_create_with_history writes it."""
    history = model.history.model
    shared = [f.column for f in history._meta.concrete_fields if not f.name.startswith("history_")]
    cursor.execute(
        f"""
        INSERT INTO {history._meta.db_table} ({", ".join(shared)}, history_date, history_change_reason, history_type,
            history_user_id)
        SELECT {", ".join(shared)}, created_at, 'Booked', '+', NULL FROM {model._meta.db_table}
        """
    )


def _insert_reminders(cursor, appointment_model, reminder_model) -> None:
    """The booking confirmation and three reminders (72, 24, 2 hours before) per appointment, sent."""
    cursor.execute(
        f"""
        INSERT INTO {reminder_model._meta.db_table} (appointment_id, kind, channel, offset_minutes, session_starts_at,
            due_at, next_attempt_at, status, attempts, lease_expires_at, sent_at, provider_message_id, last_error,
            fallback_reason, created_at, updated_at)
        SELECT a.id, r.kind, 'email', r.minutes, a.starts_at, due, due, 'sent', 1, NULL, due, '', '', '', a.created_at, due
        FROM {appointment_model._meta.db_table} a,
            (VALUES ('confirmation', NULL::int), ('reminder', 4320), ('reminder', 1440), ('reminder', 120)) AS r(kind, minutes),
            LATERAL (SELECT CASE WHEN r.minutes IS NULL THEN a.created_at
                     ELSE a.starts_at - make_interval(mins => r.minutes) END AS due) AS d
        """
    )


def check(size: int) -> dict:
    _setup_django()
    from clinic.models import Site

    version = DATA_VERSION if Site.objects.filter(name=f"Scale {size} v{DATA_VERSION}").exists() else "none"
    return {"version": version}


# --- measuring (child process, on a copy) ----------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _cells(first_day: int, last_day: int) -> list[tuple[dt.datetime, int]]:
    """Free future (start, chair index) cells on days [first_day, last_day) after FUTURE."""
    per_day = len(STARTS) * CHAIRS
    cells = []
    for g in range(first_day * per_day, last_day * per_day):
        if g % 5 < 2:
            continue  # the generated future load
        day, rest = divmod(g, per_day)
        start, chair = divmod(rest, CHAIRS)
        cells.append((_local(FUTURE + dt.timedelta(days=day), STARTS[start]), chair))
    return cells


def measure(size: int, bookings: int, seconds: float, clients: int, workers: int) -> dict:
    _setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from clinic.models import Chair, Role, Site, StaffMember
    from patients.models import Patient
    from scheduling import services
    from scheduling.engine import Availability
    from scheduling.engine.wallclock import day_bounds
    from scheduling.models import Appointment, Protocol, TreatmentPlan
    from scheduling.selectors import site_snapshot, sites_with_schedule

    call_command("migrate", verbosity=0)
    site = Site.objects.get(name=f"Scale {size} v{DATA_VERSION}")
    chairs = list(Chair.objects.filter(site=site).order_by("name"))
    nurses = list(StaffMember.objects.filter(role=Role.NURSE, sites=site).order_by("pk"))
    desk = StaffMember.objects.filter(role=Role.FRONT_DESK, sites=site).first()
    prescriber = StaffMember.objects.filter(role=Role.PRESCRIBER, sites=site).first()
    protocol = Protocol.objects.get(name="IV ketamine, six in three weeks")
    token = api_token(desk.user)
    result: dict = {"size": size, "appointments": Appointment.objects.count()}

    # Free slots, all 12 chairs, one week (days 0-6 of the future load), in process.
    timings, statements = [], set()
    first, last = FUTURE, FUTURE + dt.timedelta(days=6)
    for run in range(31):  # the first run prepares the statements and is not counted
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            fresh = sites_with_schedule().get(pk=site.pk)
            start, _ = day_bounds(first, fresh.zone)
            _, end = day_bounds(last, fresh.zone)
            availability = Availability(site_snapshot(site=fresh, start=start, end=end))
            found = [
                slot
                for offset in range(7)
                for slot in availability.free_slots(first + dt.timedelta(days=offset), dt.timedelta(minutes=120), "iv")
            ]
            elapsed = (time.perf_counter() - began) * 1000
        if run:
            timings.append(elapsed)
            statements.add(len(queries))
    result["free_slots"] = {
        "median_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 0.95),
        "statements": max(statements),
        "slots": len(found),
    }

    # Propose a 6-session course.
    now = dt.datetime.combine(FUTURE - dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    timings, statements = [], set()
    for index in range(31):  # the first is not counted, as above
        start_day = FUTURE + dt.timedelta(days=7 + index % 20)
        patient = evaluated_patient(site, prescriber, first_name="Course", last_name=f"{index}", start=start_day)
        plan = services.plan_create(
            patient=patient, protocol=protocol, prescriber=prescriber, start_date=start_day, actor=prescriber.user
        )
        plan = TreatmentPlan.objects.select_related("protocol", "site", "patient").get(pk=plan.pk)
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            services.course_propose(plan=plan, start_date=start_day, now=now)
            elapsed = (time.perf_counter() - began) * 1000
        if index:
            timings.append(elapsed)
            statements.add(len(queries))
    result["propose"] = {
        "median_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 0.95),
        "statements": max(statements),
    }

    def new_patients(count: int, label: str) -> list[Patient]:
        return bench_patients(
            site,
            count,
            last_name=label + " {}",
            email=label + "{}@example.org",
            reminder_consent=True,
            evaluated_by=prescriber.user,
        )

    def body(cell: tuple[dt.datetime, int], patient: Patient) -> dict:
        start, chair = cell
        return {
            "patient": patient.pk,
            "site": site.pk,
            "starts_at": start.isoformat(),
            "chair": chairs[chair].pk,
            "nurse": nurses[chair].pk,
        }

    # Statements and commits of one HTTP booking, in process, after one warm-up booking.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=auth_header(token)["Authorization"])
    cells = _cells(10, 12)
    warm, counted = new_patients(2, "count")
    commits: list[str] = []
    real_commit = BaseDatabaseWrapper._commit

    def counting_commit(wrapper):
        commits.append(wrapper.alias)
        return real_commit(wrapper)

    def post(client, payload):
        return client.post("/api/v1/appointments/", payload, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))

    assert post(client, body(cells[0], warm)).status_code == 201
    BaseDatabaseWrapper._commit = counting_commit
    try:
        with CaptureQueriesContext(connection) as queries:
            response = post(client, body(cells[1], counted))
    finally:
        BaseDatabaseWrapper._commit = real_commit
    assert response.status_code == 201, response.content
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
    sql = [q["sql"] for q in queries.captured_queries]
    with connection.cursor() as cursor:  # the hot reads run as prepared statements: show their SQL
        cursor.execute("SELECT name, statement FROM pg_prepared_statements")
        prepared = dict(cursor.fetchall())

    def _readable(statement: str) -> str:
        if statement.startswith("EXECUTE "):
            name = statement.split()[1]
            return f"EXECUTE {prepared.get(name, name).split(' AS ', 1)[-1]}"
        return statement

    result["booking_statements"] = {
        "statements": sum(not s.startswith(control) for s in sql),
        "transaction_control": sum(s.startswith(control) for s in sql),
        "commits": len(commits),
        "listing": [_readable(s)[:110] for s in sql],
    }
    connection.close()

    # Over HTTP against gunicorn.
    warm_cells = _cells(8, 10)[:WARM_BOOKINGS]
    sequential_cells = _cells(12, 30)[:bookings]
    concurrent_cells = _cells(30, FUTURE_DAYS)
    warm_patients = new_patients(len(warm_cells), "warm")
    sequential_patients = new_patients(len(sequential_cells), "seq")
    concurrent_patients = new_patients(len(concurrent_cells) + len(concurrent_cells) // 10 + 1, "conc")
    max_before = Appointment.objects.order_by("-pk").values_list("pk", flat=True).first()
    connection.close()
    result["http"] = _http(
        token=token,
        workers=workers,
        clients=clients,
        seconds=seconds,
        warm=[body(c, p) for c, p in zip(warm_cells, warm_patients, strict=False)],
        sequential=[body(c, p) for c, p in zip(sequential_cells, sequential_patients, strict=False)],
        concurrent=_contested(
            [body(c, p) for c, p in zip(concurrent_cells, concurrent_patients, strict=False)],
            concurrent_patients[len(concurrent_cells) :],
        ),
    )
    result["http"]["overlaps"] = _overlaps(site, max_before)
    return result


def _contested(bodies: list[dict], spare_patients: list) -> list[dict]:
    """Every tenth cell asked for a second time by another patient, right after the first."""
    out = []
    spare = iter(spare_patients)
    for index, payload in enumerate(bodies):
        out.append(payload)
        if index % 10 == 5:
            other = next(spare, None)
            if other is not None:
                out.append({**payload, "patient": other.pk})
    return out


def _http(
    *,
    token: str,
    workers: int,
    clients: int,
    seconds: float,
    warm: list[dict],
    sequential: list[dict],
    concurrent: list[dict],
) -> dict:
    import requests

    headers = auth_header(token)
    with server.gunicorn(workers=workers, env=os.environ.copy(), stdout=sys.stderr) as base:
        session = requests.Session()
        session.headers.update(headers)
        # Warm every worker: its database connection, and a few bookings each (the first booking
        # a worker serves prepares the hot statements on its connection and builds the
        # serializers' fields); a server in use has long done both.
        for _ in range(workers * 4):
            session.get(f"{base}/api/v1/sites/", timeout=10)
        for payload in warm:
            response = session.post(
                f"{base}/api/v1/appointments/", json=payload, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30
            )
            if response.status_code != 201:
                raise RuntimeError(f"warm-up booking failed: {response.status_code} {response.text[:200]}")

        latencies, failures = [], 0
        for payload in sequential:
            began = time.perf_counter()
            response = session.post(
                f"{base}/api/v1/appointments/", json=payload, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30
            )
            latencies.append((time.perf_counter() - began) * 1000)
            if response.status_code != 201:
                failures += 1
                if failures <= 3:
                    print(f"sequential booking failed: {response.status_code} {response.text[:200]}", file=sys.stderr)
        out = {
            "sequential": {
                "bookings": len(latencies),
                "failures": failures,
                "median_ms": statistics.median(latencies),
                "p95_ms": percentile(latencies, 0.95),
            }
        }

        lock = threading.Lock()
        queue = list(reversed(concurrent))
        counts = {"created": 0, "conflicts": 0, "errors": 0}
        deadline = time.perf_counter() + seconds

        def client_loop() -> None:
            own = requests.Session()
            own.headers.update(headers)
            while time.perf_counter() < deadline:
                with lock:
                    if not queue:
                        return
                    payload = queue.pop()
                response = own.post(
                    f"{base}/api/v1/appointments/",
                    json=payload,
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                    timeout=30,
                )
                key = {201: "created", 409: "conflicts"}.get(response.status_code, "errors")
                with lock:
                    counts[key] += 1
                if key == "errors" and counts["errors"] <= 3:
                    print(f"concurrent booking failed: {response.status_code} {response.text[:200]}", file=sys.stderr)

        threads = [threading.Thread(target=client_loop) for _ in range(clients)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        out["concurrent"] = {
            **counts,
            "clients": clients,
            "workers": workers,
            "seconds": elapsed,
            "bookings_per_s": counts["created"] / elapsed,
        }
        return out


def _overlaps(site, max_before: int) -> dict:
    """Rule breaks among blocking sessions touching the bench's bookings: chair or patient
    double-booked, or a nurse with more patients at once than the site allows."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE a.chair_id = b.chair_id), count(*) FILTER (WHERE a.patient_id = b.patient_id)
            FROM scheduling_appointment a JOIN scheduling_appointment b
              ON a.id < b.id AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
             AND (a.chair_id = b.chair_id OR a.patient_id = b.patient_id)
            WHERE b.id > %s AND a.status IN ('booked','confirmed','checked_in','in_chair','completed')
              AND b.status IN ('booked','confirmed','checked_in','in_chair','completed')
            """,
            [max_before],
        )
        chair, patient = cursor.fetchone()
        cursor.execute(
            """
            SELECT count(*) FROM (
              SELECT a.id FROM scheduling_appointment a JOIN scheduling_appointment b
                ON b.nurse_id = a.nurse_id AND b.starts_at <= a.starts_at AND b.ends_at > a.starts_at
               AND b.status IN ('booked','confirmed','checked_in','in_chair','completed')
              WHERE a.id > %s AND a.status IN ('booked','confirmed','checked_in','in_chair','completed')
              GROUP BY a.id HAVING count(*) > %s) AS over
            """,
            [max_before, site.max_patients_per_nurse],
        )
        (nurse,) = cursor.fetchone()
    return {"chair": chair, "patient": patient, "nurse_over_limit": nurse}


# --- the parent: sizes, curve, targets -------------------------------------------


def report(results: list[dict], builds: dict[int, float | None]) -> list[str]:
    missed = []
    print(
        "\nsize     appts  built    free-slots week       propose course      HTTP booking (1 client)    "
        "statements  8 clients"
    )
    print(
        "                         median  p95  stmts    median  p95  stmts  median   p95              "
        "(+tx ctl)   booked/s  409s  overlaps"
    )
    for r in results:
        fs, pr, st, http = r["free_slots"], r["propose"], r["booking_statements"], r["http"]
        seq, conc, over = http["sequential"], http["concurrent"], http["overlaps"]
        built = builds.get(r["size"])
        print(
            f"{r['size']:>7,} {r['appointments']:>7,} {'reused' if built is None else f'{built:5.1f} s':>6}  "
            f"{fs['median_ms']:6.1f} {fs['p95_ms']:5.1f} {fs['statements']:4}    "
            f"{pr['median_ms']:6.1f} {pr['p95_ms']:5.1f} {pr['statements']:4}   "
            f"{seq['median_ms']:6.1f} {seq['p95_ms']:6.1f}              "
            f"{st['statements']:3} (+{st['transaction_control']}) {st['commits']}c  "
            f"{conc['bookings_per_s']:7.1f} {conc['conflicts']:5} {sum(over.values()):6}"
        )
        label = f"{r['size']:,}"
        if seq["p95_ms"] >= TARGETS["booking_p95_ms"]:
            missed.append(f"{label}: HTTP booking p95 {seq['p95_ms']:.1f} ms")
        if st["statements"] > TARGETS["booking_statements"]:
            missed.append(f"{label}: {st['statements']} statements per booking")
        if st["commits"] != TARGETS["booking_commits"]:
            missed.append(f"{label}: {st['commits']} commits per booking")
        if conc["bookings_per_s"] < TARGETS["concurrent_bookings_per_s"]:
            missed.append(f"{label}: {conc['bookings_per_s']:.1f} concurrent bookings/s")
        if fs["p95_ms"] >= TARGETS["free_slots_p95_ms"]:
            missed.append(f"{label}: free slots p95 {fs['p95_ms']:.1f} ms")
        if r["size"] >= 100_000 and pr["p95_ms"] >= TARGETS["propose_p95_ms"]:
            missed.append(f"{label}: propose p95 {pr['p95_ms']:.1f} ms")
        if seq["failures"] or conc["errors"]:
            missed.append(f"{label}: {seq['failures'] + conc['errors']} failed requests")
        if sum(over.values()):
            missed.append(f"{label}: overlaps {over}")
    if len(results) > 1:
        small, large = results[0], results[-1]
        for key in ("statements", "median_ms"):
            growth = large["free_slots"][key] / max(small["free_slots"][key], 1e-9)
            print(f"free slots {key}: {growth:.2f}x from {small['size']:,} to {large['size']:,}")
            if growth >= TARGETS["growth"]:
                missed.append(f"free slots {key} grows {growth:.2f}x")
    print("\nstatements of one booking at the largest size:")
    for line in results[-1]["booking_statements"]["listing"]:
        print(f"  {line}")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the cached data sets")
    parser.add_argument("--bookings", type=int, default=150, help="sequential HTTP bookings per size")
    parser.add_argument("--seconds", type=float, default=15.0, help="time limit of the concurrent run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--check", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(json.dumps(build(args.build)))
        return 0
    if args.check:
        print(json.dumps(check(args.check)))
        return 0
    if args.measure:
        print(json.dumps(measure(args.measure, args.bookings, args.seconds, args.clients, args.workers), default=str))
        return 0

    results, builds = [], {}
    for size in sorted(args.sizes):
        run, builds[size] = run_copy(size, args.rebuild, end="; ")
        try:
            print("measuring …", flush=True)
            results.append(
                _child(
                    [
                        "--measure",
                        str(size),
                        "--bookings",
                        str(args.bookings),
                        "--seconds",
                        str(args.seconds),
                        "--clients",
                        str(args.clients),
                        "--workers",
                        str(args.workers),
                    ],
                    run,
                )
            )
        finally:
            _drop(run)
    missed = report(results, builds)
    print(
        f"\nmeasured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    if missed:
        print("\nMISSED: " + "; ".join(missed))
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
