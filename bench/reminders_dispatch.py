"""Benchmark: 10,000 due reminders dispatched by one worker.

Runs the dispatcher service in a loop, as the beat task does, with Django's
in-memory (locmem) email backend against PostgreSQL, in a database of its own
(`clinic_bench_reminders`, dropped and re-created each run). Prints reminders per second,
median and p95 batch time, queries per batch and duplicates; exits non-zero
below 200 reminders/s or on any duplicate.

    .venv/bin/python bench/reminders_dispatch.py [--reminders 10000] [--batch-size 100] [--keep]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_reminders")
os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

import psycopg2  # noqa: E402
from psycopg2 import sql  # noqa: E402

MIN_RATE = 200.0


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


class QueryCounter:
    """Counts statements without Django's debug query log (which is capped and slows the run)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.count += 1
        return execute(sql, params, many, context)


def seed(reminder_count: int, now: dt.datetime) -> None:
    from clinic.models import Chair, Channel, OpeningHours, ReminderPolicy, Site
    from patients.models import Patient
    from scheduling.models import Appointment, Reminder, ReminderKind

    site = Site.objects.create(
        name="Bench site", time_zone="America/New_York", address="1 Bench Road", phone="+12025550143"
    )
    OpeningHours.objects.bulk_create(
        OpeningHours(site=site, weekday=d, opens_at=dt.time(8), closes_at=dt.time(18)) for d in range(5)
    )
    # Quiet hours off: the benchmark measures sending, and must not depend on the hour it runs at.
    ReminderPolicy.objects.update_or_create(site=site, defaults={"quiet_hours_start": dt.time(0), "quiet_hours_end": dt.time(0)})
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the clinic_bench_reminders database afterwards")
    args = parser.parse_args()

    recreate_database(BENCH_DATABASE_URL)
    import django

    django.setup()
    from django.conf import settings
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from scheduling.models import Reminder, ReminderAttempt, ReminderStatus
    from scheduling.reminders.services import reminders_dispatch_due

    assert settings.EMAIL_BACKEND == "django.core.mail.backends.locmem.EmailBackend"
    # Messages carry confirm/cancel links; mount them as clinic.urls will ("r/").
    settings.ROOT_URLCONF = "tests.reminders.urls"
    mail.outbox = []
    try:
        call_command("migrate", verbosity=0)
        seed(args.reminders, timezone.now())
        connection.close()

        batch_seconds: list[float] = []
        batch_queries: list[int] = []
        sent = 0
        started = time.perf_counter()
        while True:
            batch_started = time.perf_counter()
            queries = QueryCounter()
            with connection.execute_wrapper(queries):
                report = reminders_dispatch_due(batch_size=args.batch_size)
            if not report.claimed:
                break
            batch_seconds.append(time.perf_counter() - batch_started)
            batch_queries.append(queries.count)
            sent += report.sent
            if report.failed or report.retried or report.skipped:
                print(f"unexpected outcome: {report}", file=sys.stderr)
                return 1
        elapsed = time.perf_counter() - started

        per_message = collections.Counter(m.extra_headers["X-Reminder-Id"] for m in mail.outbox)
        duplicate_messages = sum(count - 1 for count in per_message.values() if count > 1)
        duplicate_attempts = ReminderAttempt.objects.filter(succeeded=True).count() - len(per_message)
        unsent = Reminder.objects.exclude(status=ReminderStatus.SENT).count()
        rate = sent / elapsed
        batch_ms = sorted(s * 1000 for s in batch_seconds)
        p95 = batch_ms[max(0, round(0.95 * len(batch_ms)) - 1)]
        print(f"reminders dispatched: {sent} in {elapsed:.2f} s, {len(batch_ms)} batches of {args.batch_size}")
        print(f"reminders per second: {rate:.0f}")
        print(f"batch time: median {statistics.median(batch_ms):.1f} ms, p95 {p95:.1f} ms")
        print(f"queries per batch: median {statistics.median(batch_queries):.0f}, max {max(batch_queries)}")
        print(f"duplicates: {duplicate_messages} messages, {duplicate_attempts} attempt rows; not sent: {unsent}")
        ok = (
            rate >= MIN_RATE
            and duplicate_messages == 0
            and duplicate_attempts == 0
            and unsent == 0
            and sent == args.reminders
        )
        print("PASS" if ok else f"FAIL (needs >= {MIN_RATE:.0f}/s, no duplicates, every reminder sent)")
        return 0 if ok else 1
    finally:
        connection.close()
        if not args.keep:
            recreate_database(BENCH_DATABASE_URL, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
