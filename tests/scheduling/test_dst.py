"""Daylight-saving change days in two zones: sessions keep their local wall-clock
time, nonexistent times are skipped, repeated times mean their first occurrence."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from scheduling import services
from scheduling.engine import Availability, Preferences, SiteSnapshot
from scheduling.engine.wallclock import day_bounds, local_instant
from scheduling.models import Phase
from tests.clinical_helpers import record_session_for_completion
from tests.scheduling.conftest import make_clinic

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")

# (zone, change day, a Monday before it)
CHANGE_DAYS = [
    pytest.param("America/New_York", dt.date(2026, 3, 8), dt.date(2026, 3, 2), id="new-york-spring"),
    pytest.param("America/New_York", dt.date(2026, 11, 1), dt.date(2026, 10, 26), id="new-york-autumn"),
    pytest.param("Europe/London", dt.date(2026, 3, 29), dt.date(2026, 3, 23), id="london-spring"),
    pytest.param("Europe/London", dt.date(2026, 10, 25), dt.date(2026, 10, 19), id="london-autumn"),
]


def test_a_time_inside_the_spring_gap_does_not_exist():
    assert local_instant(dt.date(2026, 3, 8), dt.time(2, 30), NY) is None
    assert local_instant(dt.date(2026, 3, 29), dt.time(1, 30), LONDON) is None
    assert local_instant(dt.date(2026, 3, 8), dt.time(3, 0), NY) == dt.datetime(2026, 3, 8, 7, tzinfo=dt.UTC)


def test_a_repeated_autumn_time_means_its_first_occurrence():
    assert local_instant(dt.date(2026, 11, 1), dt.time(1, 30), NY) == dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)
    assert local_instant(dt.date(2026, 10, 25), dt.time(1, 30), LONDON) == dt.datetime(
        2026, 10, 25, 0, 30, tzinfo=dt.UTC
    )


def test_change_days_are_23_and_25_hours_long():
    start, end = day_bounds(dt.date(2026, 3, 8), NY)
    assert end - start == dt.timedelta(hours=23)
    start, end = day_bounds(dt.date(2026, 10, 25), LONDON)
    assert end - start == dt.timedelta(hours=25)


def test_no_start_is_offered_inside_the_gap_of_a_night_clinic():
    site = SiteSnapshot(
        id=1,
        name="Night",
        zone=NY,
        opening={6: (dt.time(0), dt.time(6))},
        closures=(),
        chairs=(),
        nurses=(),
        step_minutes=30,
    )
    starts, _ = Availability(site).candidate_starts(dt.date(2026, 3, 8), dt.timedelta(minutes=60), Preferences())
    local = [s.astimezone(NY).time() for s in starts]
    assert dt.time(2, 0) not in local and dt.time(2, 30) not in local
    assert dt.time(1, 30) in local and dt.time(3, 0) in local
    # The session that starts at 04:30 ends at 05:30 local, inside opening hours; 23-hour day, no 05:30 start.
    assert local[-1] == dt.time(5, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(("zone_name", "change_day", "monday"), CHANGE_DAYS)
def test_a_course_across_a_clock_change_stays_at_ten_local(zone_name, change_day, monday):
    zone = ZoneInfo(zone_name)
    clinic = make_clinic(time_zone=zone_name, days=320)
    plan = clinic.plan(
        start_date=monday,
        preferences=Preferences(weekdays=frozenset(range(5)), earliest=dt.time(10), latest=dt.time(10)),
    )
    now = dt.datetime.combine(monday - dt.timedelta(days=3), dt.time(12), tzinfo=dt.UTC)
    booked = services.course_book(plan=plan, actor=None, now=now, start_date=monday)
    local_times = {a.starts_at.astimezone(zone).time() for a in booked}
    assert local_times == {dt.time(10)}
    offsets = {a.starts_at.astimezone(zone).utcoffset() for a in booked}
    assert len(offsets) == 2, "the course should straddle the change"
    assert all(a.ends_at - a.starts_at == dt.timedelta(minutes=120) for a in booked)
    assert any(a.starts_at.astimezone(zone).date() < change_day for a in booked)
    assert any(a.starts_at.astimezone(zone).date() > change_day for a in booked)


@pytest.mark.django_db
def test_maintenance_across_the_autumn_change_keeps_its_local_time():
    clinic = make_clinic(time_zone="Europe/London", days=320)
    plan = clinic.plan(
        start_date=dt.date(2026, 9, 7),
        preferences=Preferences(weekdays=frozenset(range(5)), earliest=dt.time(14), latest=dt.time(14)),
    )
    now = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    booked = services.course_book(plan=plan, actor=None, now=now, start_date=dt.date(2026, 9, 7))
    for session in booked:
        services.appointment_check_in(appointment=session, actor=None, now=session.starts_at)
        record_session_for_completion(session)
        services.appointment_complete(appointment=session, actor=None, now=session.ends_at)
    maintenance = list(plan.appointments.filter(phase=Phase.MAINTENANCE).order_by("starts_at")[:3])
    assert len(maintenance) >= 2
    assert {a.starts_at.astimezone(LONDON).time() for a in maintenance} == {dt.time(14)}
    assert {a.starts_at.astimezone(LONDON).utcoffset() for a in [*booked, *maintenance]} == {
        dt.timedelta(hours=1),
        dt.timedelta(0),
    }
