"""The capacity page's numbers (clinical.selectors.capacity_report) on a day small enough to count by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from clinic.models import Closure
from clinical.models import Administration, Recovery
from clinical.selectors import CapacityWindow, capacity_report
from scheduling.models import AppointmentStatus
from tests.factories import AppointmentFactory, PlanFactory, ProtocolFactory
from tests.scheduling.conftest import NOW, make_clinic

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY = dt.date(2026, 3, 4)
THURSDAY = dt.date(2026, 3, 5)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


@pytest.fixture
def day():
    """Three chairs, one nurse 07:30-18:30, open 08:00-18:00. On Wednesday: two sessions at 08:00 (one
    with a 20-minute wait from check-in to infusion), one from 16:30 discharged at 18:45, one cancelled."""
    clinic = make_clinic()
    nurse = clinic.nurses[0]
    one, two, three = clinic.chairs
    first = AppointmentFactory(
        chair=one,
        starts_at=_at(WEDNESDAY, 8),
        ends_at=_at(WEDNESDAY, 10),
        status=AppointmentStatus.COMPLETED,
        checked_in_at=_at(WEDNESDAY, 7, 50),
        completed_at=_at(WEDNESDAY, 9, 55),
    )
    Administration.objects.create(
        appointment=first,
        route="iv",
        dose_mg_per_kg=Decimal("0.5"),
        weight_kg=Decimal("70"),
        total_mg=Decimal("35"),
        started_at=_at(WEDNESDAY, 8, 10),
        ended_at=_at(WEDNESDAY, 8, 50),
        lot_number="LOT-1",
        given_by=nurse,
        recorded_by=nurse.user,
        recorded_at=_at(WEDNESDAY, 8, 50),
    )
    AppointmentFactory(chair=two, starts_at=_at(WEDNESDAY, 8), ends_at=_at(WEDNESDAY, 10))
    late = AppointmentFactory(
        chair=three,
        starts_at=_at(WEDNESDAY, 16, 30),
        ends_at=_at(WEDNESDAY, 18, 30),
        status=AppointmentStatus.COMPLETED,
        completed_at=_at(WEDNESDAY, 18, 50),
    )
    Recovery.objects.create(
        appointment=late,
        discharged_at=_at(WEDNESDAY, 18, 45),
        driver_name="Chris",
        recorded_by=nurse.user,
        recorded_at=_at(WEDNESDAY, 18, 45),
    )
    AppointmentFactory(
        chair=three,
        starts_at=_at(WEDNESDAY, 10),
        ends_at=_at(WEDNESDAY, 12),
        status=AppointmentStatus.CANCELLED,
        cancelled_at=_at(WEDNESDAY, 7),
    )
    return clinic


def test_one_day_counted_by_hand(day, django_assert_num_queries):
    with django_assert_num_queries(5):
        report = capacity_report(site=day.site, windows=[CapacityWindow("Wednesday", WEDNESDAY, WEDNESDAY)], now=NOW)

    [period] = report.periods
    assert report.chairs == 3
    assert report.hours == list(range(8, 19))  # to an hour past closing, for the overtime
    assert period.open_days == 1 and period.sessions == 3  # the cancelled one is not counted
    by_hour = dict(zip(report.hours, period.chair_utilisation, strict=True))
    assert by_hour[8] == pytest.approx(120 / 180)
    assert by_hour[16] == pytest.approx(30 / 180)
    assert by_hour[17] == pytest.approx(60 / 180)
    assert by_hour[18] is None  # closed: no chair time to use
    nurse = dict(zip(report.hours, period.nurse_utilisation, strict=True))
    # Two setups (20 min) and two checks at 40 minutes (5 min) in the nurse's 60 minutes on shift.
    assert nurse[8] == pytest.approx(50 / 60)
    assert nurse[9] == pytest.approx(20 / 60)  # two discharges of 10 minutes
    setups = dict(zip(report.setup_bins, period.setups_peak, strict=True))
    assert setups[8 * 60] == 2 and setups[16 * 60 + 30] == 1 and period.peak_setups == 2
    assert period.setups_mean[report.setup_bins.index(8 * 60)] == 2.0
    assert period.waits_minutes == [20.0]
    assert (period.overtime_minutes, period.overtime_sessions, period.overtime_days) == (45, 1, 1)


def test_periods_side_by_side_share_one_axis_and_a_closed_day_is_not_an_open_day(day):
    Closure.objects.create(site=day.site, starts_at=_at(THURSDAY, 0), ends_at=_at(THURSDAY, 23), reason="Training")

    report = capacity_report(
        site=day.site,
        windows=[CapacityWindow("Wednesday", WEDNESDAY, WEDNESDAY), CapacityWindow("Thursday", THURSDAY, THURSDAY)],
        now=NOW,
    )

    wednesday, thursday = report.periods
    assert wednesday.sessions == 3 and thursday.sessions == 0
    assert thursday.open_days == 0
    assert all(value is None for value in thursday.chair_utilisation)
    assert thursday.peak_setups == 0 and thursday.waits_minutes == []


def test_a_check_inside_the_discharge_is_counted_once_as_booking_lays_it_out():
    # A 45-minute protocol whose check at 40 falls inside its 10-minute discharge (35-45): the
    # nurse's hands-on minutes are the setup (20) and 35-45 (10), not 35 in all.
    clinic = make_clinic()
    short = ProtocolFactory(
        name="Intranasal, 45 minutes",
        session_minutes=45,
        infusion_minutes=30,
        nurse_setup_minutes=20,
        nurse_check_offsets_minutes=[40],
        nurse_check_minutes=5,
        nurse_discharge_minutes=10,
    )
    plan = PlanFactory(protocol=short, patient__home_site=clinic.site)
    AppointmentFactory(
        chair=clinic.chairs[0],
        patient=plan.patient,
        plan=plan,
        starts_at=_at(THURSDAY, 9),
        ends_at=_at(THURSDAY, 9, 45),
    )

    report = capacity_report(site=clinic.site, windows=[CapacityWindow("Thursday", THURSDAY, THURSDAY)], now=NOW)

    nurse = dict(zip(report.hours, report.periods[0].nurse_utilisation, strict=True))
    assert nurse[9] == pytest.approx(30 / 60)


def test_a_chair_out_of_use_takes_its_own_hours_out_of_the_chair_time_not_the_sites(day, django_assert_num_queries):
    # Chair 3 out of use 08:00-10:00 and again 09:00-12:00 (overlapping periods counted once): the
    # 08:00 hour has two chairs' time, the site stays open.
    three = day.chairs[2]
    for starts, ends in ((8, 10), (9, 12)):
        Closure.objects.create(
            site=day.site, chair=three, starts_at=_at(WEDNESDAY, starts), ends_at=_at(WEDNESDAY, ends), reason="Pump"
        )
    with django_assert_num_queries(5):
        report = capacity_report(site=day.site, windows=[CapacityWindow("Wednesday", WEDNESDAY, WEDNESDAY)], now=NOW)

    [period] = report.periods
    assert period.open_days == 1
    by_hour = dict(zip(report.hours, period.chair_utilisation, strict=True))
    assert by_hour[8] == pytest.approx(120 / 120)
    assert by_hour[12] == pytest.approx(0 / 180)
    assert by_hour[16] == pytest.approx(30 / 180)
