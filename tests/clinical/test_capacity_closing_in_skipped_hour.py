"""Minutes past closing on the night the clocks skip the closing time (New York, 8 March 2026:
02:00-03:00 does not happen). Booking closes the site when the clock first shows a time at or
after closing (`opening_instant`: 03:00 EDT for a 02:30 closing)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinical.selectors import CapacityWindow, capacity_report
from scheduling.engine.wallclock import opening_instant
from tests.factories import AppointmentFactory, ChairFactory, SiteFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
SPRING = dt.date(2026, 3, 8)  # Sunday


def test_a_session_running_past_a_closing_time_the_clocks_skip_counts_as_overtime():
    """A session that ends 20 minutes after the site closed on the spring-forward night shows 20 minutes past closing on the capacity page."""
    site = SiteFactory(hours={6: (dt.time(0), dt.time(2, 30))})
    chair = ChairFactory(site=site, name="Chair 1")
    closes = opening_instant(SPRING, dt.time(2, 30), NY)  # 03:00 EDT, as booking closes the site
    assert closes.astimezone(NY).time() == dt.time(3)
    starts = dt.datetime.combine(SPRING, dt.time(0, 30), tzinfo=NY)
    ends = closes + dt.timedelta(minutes=20)  # 03:20 EDT
    AppointmentFactory(chair=chair, starts_at=starts, ends_at=ends)

    period = capacity_report(site=site, windows=[CapacityWindow("day", SPRING, SPRING)], now=NOW).periods[0]

    assert (period.overtime_sessions, period.overtime_minutes) == (1, 20)
