"""Booking over HTTP against a real server: gunicorn serving the app on PostgreSQL.

Creates its own database (clinic_bench_api), migrates it, seeds a staffed site with one
patient per booking, starts gunicorn on a free 127.0.0.1 port, then POSTs N bookings of
distinct slots (each with an Idempotency-Key) and N requests to /health/ on the same
server. Prints bookings/second, health requests/second, their ratio and median/p95
latency; exits non-zero if any booking request fails.

    .venv/bin/python bench/api_booking.py --bookings 200 --workers 4
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
from zoneinfo import ZoneInfo

import psycopg2
import requests
from seed import bench_patients
from server import gunicorn

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "clinic_bench_api"


def recreate_database(admin_url: str) -> None:
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {DB_NAME}")
    conn.close()


def seed(bookings: int) -> tuple[str, list[dict]]:
    """A site open every day 07:00–21:00 with enough chairs and nurses; returns a token and the booking bodies."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from clinic.models import Chair, OpeningHours, ReminderPolicy, Role, Shift, Site, StaffMember
    from clinic.security.services import token_issue

    user_model = get_user_model()
    site = Site.objects.create(name="Bench", time_zone="America/New_York", address="1 Bench St", phone="+12025550143")
    ReminderPolicy.objects.get_or_create(site=site)  # the site got one when it was saved
    OpeningHours.objects.bulk_create(
        OpeningHours(site=site, weekday=day, opens_at=dt.time(7), closes_at=dt.time(21)) for day in range(7)
    )
    chairs = [Chair.objects.create(site=site, name=f"Chair {i}", equipment=["iv"]) for i in range(6)]
    zone = ZoneInfo(site.time_zone)
    first_day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).astimezone(zone).date()
    starts_per_day = 6  # 07:00, 09:00, ... 17:00 local, two-hour sessions
    days = -(-bookings // (len(chairs) * starts_per_day)) + 1
    nurses = []
    # A nurse per chair: every chair's session starts at the same time, and a nurse sets up one
    # patient at a time (Site.setups_per_nurse), so two chairs cannot share one.
    for index in range(len(chairs)):
        nurse_user = user_model.objects.create_user(username=f"bench-nurse-{index}", password="x")
        nurse = StaffMember.objects.create(user=nurse_user, role=Role.NURSE)
        nurse.sites.add(site)
        nurses.append(nurse)
        Shift.objects.bulk_create(
            Shift(
                staff=nurse,
                site=site,
                starts_at=dt.datetime.combine(first_day + dt.timedelta(days=d), dt.time(6, 30), tzinfo=zone),
                ends_at=dt.datetime.combine(first_day + dt.timedelta(days=d), dt.time(21, 30), tzinfo=zone),
            )
            for d in range(days)
        )
    desk_user = user_model.objects.create_user(username="bench-desk", password="x")
    # Staff see only the sites they work at: a desk without the site could book nothing there.
    StaffMember.objects.create(user=desk_user, role=Role.FRONT_DESK).sites.add(site)
    token, _ = token_issue(user=desk_user)
    patients = bench_patients(
        site,
        bookings,
        last_name="Patient {}",
        email="bench{}@example.org",
        reminder_consent=True,
        evaluated_by=desk_user,
    )
    bodies = []
    for slot, patient in enumerate(patients):
        day, rest = divmod(slot, len(chairs) * starts_per_day)
        start_index, chair_index = divmod(rest, len(chairs))
        local = dt.datetime.combine(first_day + dt.timedelta(days=day), dt.time(7 + 2 * start_index), tzinfo=zone)
        nurse = nurses[chair_index]
        bodies.append(
            {
                "patient": patient.pk,
                "site": site.pk,
                "starts_at": local.isoformat(),
                "chair": chairs[chair_index].pk,
                "nurse": nurse.pk,
            }
        )
    return token, bodies


def timed(call) -> tuple[float, requests.Response]:
    began = time.perf_counter()
    response = call()
    return time.perf_counter() - began, response


def summarise(name: str, latencies: list[float], elapsed: float) -> float:
    rate = len(latencies) / elapsed
    ordered = sorted(latencies)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(
        f"{name:<10} {len(latencies):>5} requests  {rate:8.1f} req/s  "
        f"median {statistics.median(latencies) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms"
    )
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    args = parser.parse_args()

    recreate_database(f"{args.pg}/postgres")
    env = {
        **os.environ,
        "DATABASE_URL": f"{args.pg}/{DB_NAME}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "bench-only-secret",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on 127.0.0.1, as behind a TLS proxy
        "API_THROTTLE_USER": "1000000/min",
        "DJANGO_LOG_LEVEL": "WARNING",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    token, bodies = seed(args.bookings)

    with gunicorn(workers=args.workers, env=env) as base:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"

        failures = 0
        booking_latencies = []
        began = time.perf_counter()
        for body in bodies:
            elapsed, response = timed(
                lambda body=body: session.post(
                    f"{base}/api/v1/appointments/",
                    json=body,
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                    timeout=30,
                )
            )
            booking_latencies.append(elapsed)
            if response.status_code != 201:
                failures += 1
                if failures <= 5:
                    print(f"booking failed: {response.status_code} {response.text[:300]}", file=sys.stderr)
        booking_elapsed = time.perf_counter() - began

        health_latencies = []
        began = time.perf_counter()
        for _ in bodies:
            elapsed, response = timed(lambda: session.get(f"{base}/health/", timeout=10))
            health_latencies.append(elapsed)
            if response.status_code != 200:
                failures += 1
        health_elapsed = time.perf_counter() - began

        print(f"gunicorn {args.workers} workers, PostgreSQL database {DB_NAME}, one client, keep-alive session")
        booking_rate = summarise("booking", booking_latencies, booking_elapsed)
        health_rate = summarise("/health/", health_latencies, health_elapsed)
        print(
            f"booking throughput is {booking_rate / health_rate:.2f}x that of /health/ "
            f"({health_rate / booking_rate:.1f}x slower)"
        )
        if failures:
            print(f"{failures} requests failed", file=sys.stderr)
            return 1
        return 0


if __name__ == "__main__":
    sys.exit(main())
