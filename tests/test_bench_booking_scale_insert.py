"""The booking-scale benchmark's hand-written INSERT of appointments against today's schema."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.db.utils import IntegrityError

from scheduling.models import Appointment
from tests.factories import ChairFactory, PatientFactory, SiteFactory, StaffFactory

pytestmark = pytest.mark.django_db
BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_the_booking_scale_benchmark_can_still_build_its_appointments():
    """bench/booking_scale.py writes its appointments with an INSERT naming the columns by hand: it
    must name every column without a database default (Appointment.route, say), or the benchmark
    (and clinic_simulation, which builds through it) cannot build its data."""
    sys.path.insert(0, str(BENCH))
    try:
        import booking_scale
    finally:
        sys.path.remove(str(BENCH))
    site = SiteFactory(time_zone="America/Chicago")
    chairs = [ChairFactory(site=site, name=f"Chair {i}") for i in range(booking_scale.CHAIRS)]
    nurses = [StaffFactory(role="nurse", sites=[site]) for _ in range(booking_scale.CHAIRS)]
    patients = [PatientFactory(home_site=site) for _ in range(3)]
    params = {
        "per_day": 2 * booking_scale.CHAIRS,
        "chairs": [c.pk for c in chairs],
        "nurses": [n.pk for n in nurses],
        "patients": [p.pk for p in patients],
        "site": site.pk,
        "size": 2,
        "first": dt.datetime(2026, 1, 5, tzinfo=ZoneInfo("America/Chicago")),
        "status": "completed",
        "count": 2,
    }
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            booking_scale._insert_appointments(cursor, Appointment, where="g < %(size)s", params=params)
    except IntegrityError as exc:
        pytest.fail(f"the benchmark's INSERT is refused: {exc}")
    assert Appointment.objects.filter(site=site).count() == 2
