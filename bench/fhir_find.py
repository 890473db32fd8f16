"""FHIR Appointment/$find for a whole induction course (6 sessions), on the data set of
bench/booking_scale.py (one site, 12 chairs, 14 nurses, `size` past appointments and 40 %
of the chair-hours booked over the 60 days the course is planned in).

The data set is built once into a database of this bench's own
(`clinic_fhir_bench_<size>`, reused while present; `--rebuild` drops it) with
booking_scale's generator, copied for each run (`CREATE DATABASE ... TEMPLATE`), and
measured in process through the whole middleware stack (token authentication, scopes,
the access log): POST /fhir/R4/Appointment/$find with `course` = true for a new patient
each time, start dates spread over the first four weeks. Prints median, p95 and the
statements of one request; exits 1 when the p95 misses TARGET_P95_MS.

    .venv/bin/python bench/fhir_find.py                   # 100,000 appointments
    .venv/bin/python bench/fhir_find.py --size 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time

import booking_scale

TARGET_P95_MS = 100.0
booking_scale.template_name = lambda size: f"clinic_fhir_bench_{size}"  # this bench's own data sets


def measure(requests: int) -> dict:
    booking_scale._setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.parameters import Parameters
    from knox.models import AuthToken

    from clinic.models import Site, StaffMember
    from patients.models import Patient
    from scheduling.models import Protocol

    call_command("migrate", verbosity=0)  # the copy may predate this branch's migrations
    site = Site.objects.get()
    desk = StaffMember.objects.filter(role="front_desk").select_related("user").first()
    token = AuthToken.objects.create(user=desk.user)[1]
    protocol = Protocol.objects.get(name="IV ketamine, six in three weeks")
    patients = Patient.objects.bulk_create(
        Patient(first_name="Find", last_name=f"Bench {i}", date_of_birth=dt.date(1980, 1, 1), home_site=site)
        for i in range(requests + 5)
    )
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT="application/fhir+json")

    def body(index: int) -> str:
        start = dt.datetime.combine(booking_scale.FUTURE + dt.timedelta(days=index % 28), dt.time(), tzinfo=dt.UTC)
        return Parameters(
            parameter=[
                {"name": "start", "valueDateTime": start.isoformat()},
                {"name": "end", "valueDateTime": (start + dt.timedelta(days=1)).isoformat()},
                {"name": "visit-type", "valueString": str(protocol.pk)},
                {"name": "patient-reference", "valueReference": {"reference": f"Patient/{patients[index].pk}"}},
                {"name": "course", "valueBoolean": True},
            ]
        ).model_dump_json()

    def find(index: int) -> Bundle:
        response = client.post("/fhir/R4/Appointment/$find", body(index), content_type="application/fhir+json")
        if response.status_code != 200:
            raise SystemExit(f"$find answered {response.status_code}: {response.content[:300]!r}")
        bundle = Bundle.model_validate_json(response.content)
        sessions = [e for e in bundle.entry or [] if e.resource.get_resource_type() == "Appointment"]
        if len(sessions) != 6:
            raise SystemExit(f"$find proposed {len(sessions)} sessions, not 6")
        return bundle

    for index in range(3):  # warm: imports, prepared statements, caches
        find(requests + index)
    timings = []
    for index in range(requests):
        began = time.perf_counter()
        find(index)
        timings.append((time.perf_counter() - began) * 1000)
    with CaptureQueriesContext(connection) as queries:
        find(requests + 3)
    timings.sort()
    return {
        "requests": requests,
        "median_ms": statistics.median(timings),
        "p95_ms": timings[max(0, round(0.95 * len(timings)) - 1)],
        "max_ms": timings[-1],
        "queries": len(queries.captured_queries),
        "statements": [q["sql"][:140] for q in queries.captured_queries],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.requests)))
        return 0
    run, _built = booking_scale.run_copy(args.size, args.rebuild)
    try:
        result = _measure_child(run, args.requests)
    finally:
        booking_scale._drop(run)
    print(f"$find, 6-session course, {result['requests']} requests:")
    print(f"  median {result['median_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, max {result['max_ms']:.1f} ms")
    print(f"  statements per request: {result['queries']}")
    for line in result["statements"]:
        print(f"    {line}")
    if result["p95_ms"] > TARGET_P95_MS:
        print(f"MISSED: p95 {result['p95_ms']:.1f} ms > {TARGET_P95_MS:.0f} ms")
        return 1
    print(f"ok: p95 under {TARGET_P95_MS:.0f} ms")
    return 0


def _measure_child(database: str, requests: int) -> dict:
    import os
    import subprocess

    env = {**os.environ, **booking_scale.CHILD_ENV, "DATABASE_URL": f"{booking_scale.PG}/{database}"}
    done = subprocess.run(
        [sys.executable, __file__, "--measure", "--requests", str(requests)],
        cwd=booking_scale.ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())
