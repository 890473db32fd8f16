"""Benchmark: a backlog of due reminders dispatched by 1, then 3 Celery workers.

Each run starts real `celery worker` processes (solo pool, one dispatcher each)
on a queue of its own in the Redis broker and plays beat itself, enqueuing
`dispatch_due_reminders` every --beat-every seconds, against PostgreSQL in a
database of its own (`clinic_bench_reminders`, dropped and re-created). The
mail backend (tests.reminders.backends.SlowEmailBackend) accepts each message
after --send-latency-ms, the round trip a real SMTP server or SMS provider
takes: dispatching is waiting on providers, which is what more workers help
with (on a two-core machine a zero-latency send is CPU-bound and cannot scale).

Prints, per worker count, reminders per second, the median and p95 of how long
after the start a reminder was claimed, and duplicates (successful attempt rows
beyond one per reminder). Exits non-zero unless every reminder is sent, there
are no duplicates and 3 workers reach --min-speedup (2.5) times one worker.

    .venv/bin/python bench/reminders_dispatch.py [--reminders 3000] [--workers 1,3] [--send-latency-ms 10] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_reminders")
os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

import psycopg2  # noqa: E402
from psycopg2 import sql  # noqa: E402

CELERY = str(Path(sys.executable).with_name("celery"))
MIN_SPEEDUP = 2.5


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = psycopg2.connect(
        host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
        password=parsed.password or None, dbname="postgres",
    )  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop_only:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()


def seed(reminder_count: int, now: dt.datetime) -> list:
    from clinic.models import Chair, Channel, OpeningHours, ReminderPolicy, Site
    from patients.models import Patient
    from scheduling.models import Appointment

    site = Site.objects.create(
        name="Bench site", time_zone="America/New_York", address="1 Bench Road", phone="+12025550143"
    )
    OpeningHours.objects.bulk_create(
        OpeningHours(site=site, weekday=d, opens_at=dt.time(8), closes_at=dt.time(18)) for d in range(5)
    )
    # Quiet hours off: the benchmark measures sending, and must not depend on the hour it runs at.
    ReminderPolicy.objects.update_or_create(
        site=site, defaults={"quiet_hours_start": dt.time(0), "quiet_hours_end": dt.time(0)}
    )
    chairs = Chair.objects.bulk_create(Chair(site=site, name=f"Chair {n}", equipment=["iv"]) for n in range(20))
    patients = Patient.objects.bulk_create(
        Patient(
            first_name=f"Pat{n}", last_name="Bench", date_of_birth=dt.date(1980, 1, 1), email=f"pat{n}@example.org",
            mobile_phone="+12025550199", home_site=site, preferred_channel=Channel.EMAIL, reminder_consent=True,
            time_zone=("Europe/London" if n % 2 else ""), calendar_token=f"bench-{n}",
        )
        for n in range(500)
    )  # fmt: skip
    per_appointment = 2
    first_session = now + dt.timedelta(days=30)
    appointments = Appointment.objects.bulk_create(
        Appointment(
            patient=patients[n % len(patients)], site=site, chair=chairs[n % len(chairs)],
            # Three hours apart: no chair or patient overlap whatever the assignment.
            starts_at=first_session + dt.timedelta(hours=3 * n), ends_at=first_session + dt.timedelta(hours=3 * n + 2),
        )
        for n in range((reminder_count + per_appointment - 1) // per_appointment)
    )  # fmt: skip
    return appointments


def seed_reminders(appointments: list, reminder_count: int, now: dt.datetime) -> None:
    """A fresh backlog: every reminder due a minute ago, none attempted."""
    from clinic.models import Channel
    from scheduling.models import Reminder, ReminderAttempt, ReminderKind

    ReminderAttempt.objects.all().delete()
    Reminder.objects.all().delete()
    due = now - dt.timedelta(minutes=1)
    rows = [
        Reminder(
            appointment=appointment, kind=ReminderKind.REMINDER, channel=Channel.EMAIL, offset_minutes=offset,
            session_starts_at=appointment.starts_at, due_at=due, next_attempt_at=due,
        )
        for appointment in appointments
        for offset in (72 * 60, 24 * 60)
    ][:reminder_count]  # fmt: skip
    Reminder.objects.bulk_create(rows, batch_size=2000)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(fraction * len(ordered)) - 1)]


def start_workers(count: int, env: dict[str, str], log_dir: Path) -> list[subprocess.Popen]:
    workers = []
    for number in range(count):
        log = (log_dir / f"worker-{number}.log").open("w")
        workers.append(
            subprocess.Popen(
                [
                    CELERY, "-A", "config", "worker", "-Q", env["BENCH_QUEUE"], "-n", f"bench{number}-{env['BENCH_QUEUE']}@%h",
                    "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
                ],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
    deadline = time.monotonic() + 60
    for number, worker in enumerate(workers):
        log = log_dir / f"worker-{number}.log"
        while "ready." not in log.read_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {number} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
    return workers


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def run(*, workers: int, args: argparse.Namespace, appointments: list, log_dir: Path) -> dict[str, float]:
    import redis
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from config.celery import app
    from scheduling.models import Reminder, ReminderAttempt, ReminderStatus

    seed_reminders(appointments, args.reminders, timezone.now())
    connection.close()
    queue = f"bench-reminders-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.reminders.bench_settings",
        "DATABASE_URL": BENCH_DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
        "BENCH_QUEUE": queue,
        "BENCH_SEND_LATENCY_MS": str(args.send_latency_ms),
        "REMINDER_DISPATCH_EVERY": str(args.beat_every),
        "REMINDER_DISPATCH_FAN_OUT": str(args.fan_out),
    }
    processes = start_workers(workers, env, log_dir)
    try:
        started_wall = timezone.now()
        started = time.perf_counter()
        next_tick = started
        sent = 0
        while sent < args.reminders:
            now = time.perf_counter()
            if now - started > args.timeout:
                break
            if now >= next_tick:  # playing beat
                app.send_task("scheduling.tasks.dispatch_due_reminders", queue=queue, expires=float(args.beat_every))
                next_tick += args.beat_every
            time.sleep(0.1)
            sent = Reminder.objects.filter(status=ReminderStatus.SENT).count()
        elapsed = time.perf_counter() - started
    finally:
        stop(processes)
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        broker.delete(queue, f"_kombu.binding.{queue}")

    claimed_after = [
        (sent_at - started_wall).total_seconds()
        for sent_at in Reminder.objects.filter(status=ReminderStatus.SENT).values_list("sent_at", flat=True)
    ]
    per_reminder = ReminderAttempt.objects.filter(succeeded=True).values("reminder").annotate(n=Count("id"))
    duplicates = sum(row["n"] - 1 for row in per_reminder if row["n"] > 1)
    unsent = Reminder.objects.exclude(status=ReminderStatus.SENT).count()
    rate = sent / elapsed
    print(f"{workers} worker(s): {sent} reminders in {elapsed:.1f} s = {rate:.0f} reminders/s")
    if claimed_after:
        print(
            f"  claimed after start: median {statistics.median(claimed_after):.2f} s, "
            f"p95 {percentile(claimed_after, 0.95):.2f} s"
        )
    print(f"  duplicates: {duplicates}; not sent: {unsent}")
    return {"rate": rate, "duplicates": duplicates, "unsent": unsent}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=3000)
    parser.add_argument("--workers", default="1,3", help="comma-separated worker counts to compare (first is the base)")
    parser.add_argument("--send-latency-ms", type=float, default=10.0)
    parser.add_argument("--beat-every", type=int, default=5, help="seconds between dispatcher ticks")
    parser.add_argument("--fan-out", type=int, default=3, help="REMINDER_DISPATCH_FAN_OUT for the workers")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on a run after this many seconds")
    parser.add_argument("--min-speedup", type=float, default=MIN_SPEEDUP)
    parser.add_argument("--keep", action="store_true", help="keep the clinic_bench_reminders database afterwards")
    args = parser.parse_args()
    counts = [int(part) for part in args.workers.split(",")]

    recreate_database(BENCH_DATABASE_URL)
    import tempfile

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    print(
        f"{args.reminders} due reminders, send latency {args.send_latency_ms:g} ms, "
        f"ticks every {args.beat_every} s, fan-out {args.fan_out}"
    )
    try:
        call_command("migrate", verbosity=0)
        appointments = seed(args.reminders, timezone.now())
        results = {}
        with tempfile.TemporaryDirectory(prefix="bench-reminders-") as log_dir:
            for count in counts:
                results[count] = run(workers=count, args=args, appointments=appointments, log_dir=Path(log_dir))
        base = results[counts[0]]["rate"]
        ok = all(r["duplicates"] == 0 and r["unsent"] == 0 for r in results.values())
        for count in counts[1:]:
            speedup = results[count]["rate"] / base
            target = args.min_speedup if count == 3 else 0.0
            print(
                f"speedup {count} vs {counts[0]} worker(s): {speedup:.2f}x"
                + (f" (target {target:g}x)" if target else "")
            )
            ok = ok and speedup >= target
        print("PASS" if ok else "FAIL (needs every reminder sent once and 3 workers >= "
              f"{args.min_speedup:g}x one worker)")  # fmt: skip
        return 0 if ok else 1
    finally:
        connection.close()
        if not args.keep:
            recreate_database(BENCH_DATABASE_URL, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
