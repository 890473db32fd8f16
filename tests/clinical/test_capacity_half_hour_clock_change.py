"""Capacity page hours on the night a 30-minute daylight-saving change happens (Lord Howe Island:
02:00 becomes 02:30 on Sunday 4 October 2026)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinical.selectors import CapacityWindow, capacity_report
from tests.factories import AppointmentFactory, ChairFactory, SiteFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
CHANGE_DAY = dt.date(2026, 10, 4)  # a Sunday: clocks go from 02:00 to 02:30


def test_chair_use_by_hour_follows_the_wall_clock_on_a_half_hour_clock_change():
    """On the day a 30-minute clock change happens, a chair booked 09:00-10:00 shows as fully used at 09:00 on the capacity page."""
    site = SiteFactory(time_zone="Australia/Lord_Howe", hours={6: (dt.time(9), dt.time(17))})
    chair = ChairFactory(site=site, name="Chair 1")
    starts = dt.datetime.combine(CHANGE_DAY, dt.time(9), tzinfo=LORD_HOWE)
    AppointmentFactory(chair=chair, starts_at=starts, ends_at=starts + dt.timedelta(hours=1))

    report = capacity_report(site=site, windows=[CapacityWindow("day", CHANGE_DAY, CHANGE_DAY)], now=NOW)
    use = dict(zip(report.hours, report.periods[0].chair_utilisation, strict=True))

    assert use[9] == pytest.approx(1.0)  # 09:00-10:00: the one chair busy all of its open hour
    assert use[10] == pytest.approx(0.0)
