"""The capacity page counts real time: open chair time less every closure, chair use only of that
open time, and hours as they happen on the nights the clocks change (night clinic: New York, open
Sundays 00:00-06:00)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.models import Closure
from clinical.selectors import CapacityWindow, capacity_report
from tests.factories import AppointmentFactory
from tests.night_clinic import AUTUMN, NY, SPRING, make_night
from tests.scheduling.conftest import NOW, make_clinic

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY = dt.date(2026, 3, 4)


def _at(day: dt.date, hour: int, minute: int = 0, fold: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, fold=fold), tzinfo=NY)


def _report(site, day: dt.date):
    report = capacity_report(site=site, windows=[CapacityWindow("day", day, day)], now=NOW)
    period = report.periods[0]
    return report, period, dict(zip(report.hours, period.chair_utilisation, strict=True))


def test_an_afternoon_closure_is_not_idle_open_chair_time():
    clinic = make_clinic(chairs=1)
    Closure.objects.create(site=clinic.site, starts_at=_at(WEDNESDAY, 13), ends_at=_at(WEDNESDAY, 18), reason="Drill")
    AppointmentFactory(chair=clinic.chairs[0], starts_at=_at(WEDNESDAY, 9), ends_at=_at(WEDNESDAY, 11))
    _, period, use = _report(clinic.site, WEDNESDAY)
    assert period.open_days == 1
    assert use[9] == 1.0 and use[12] == 0.0
    assert use[14] is None  # closed: no open chair time, not 0 % used


def test_a_day_closed_by_two_back_to_back_closures_is_not_an_open_day():
    clinic = make_clinic(chairs=1)
    Closure.objects.create(site=clinic.site, starts_at=_at(WEDNESDAY, 0), ends_at=_at(WEDNESDAY, 12), reason="a")
    Closure.objects.create(site=clinic.site, starts_at=_at(WEDNESDAY, 12), ends_at=_at(WEDNESDAY, 23, 59), reason="b")
    _, period, use = _report(clinic.site, WEDNESDAY)
    assert period.open_days == 0 and set(use.values()) == {None}


def test_a_session_on_a_day_closed_after_it_was_booked_does_not_put_chair_use_over_100_percent():
    clinic = make_clinic(chairs=1)
    thursday = WEDNESDAY + dt.timedelta(days=1)
    for day in (WEDNESDAY, thursday):
        AppointmentFactory(chair=clinic.chairs[0], starts_at=_at(day, 8), ends_at=_at(day, 10))
    Closure.objects.create(site=clinic.site, starts_at=_at(thursday, 0), ends_at=_at(thursday, 23, 59), reason="Flood")
    report = capacity_report(site=clinic.site, windows=[CapacityWindow("two days", WEDNESDAY, thursday)], now=NOW)
    period = report.periods[0]
    use = dict(zip(report.hours, period.chair_utilisation, strict=True))
    assert (period.sessions, period.open_days) == (2, 1)
    assert use[8] == 1.0  # Wednesday's open hour, used; Thursday's session adds no open time and no use


def test_the_repeated_hour_counts_both_of_its_occurrences_without_passing_100_percent():
    night = make_night(days=())
    for chair, fold in zip(night.chairs, (0, 1), strict=True):
        start = _at(AUTUMN, 1, fold=fold)  # 01:00 EDT in chair 1, 01:00 EST (an hour later) in chair 2
        AppointmentFactory(chair=chair, starts_at=start, ends_at=start.astimezone(dt.UTC) + dt.timedelta(hours=1))
    _, period, use = _report(night.site, AUTUMN)
    assert use[1] == pytest.approx(0.5)  # each chair busy one of the two real hours labelled 01:00
    assert period.peak_setups == 1  # the two setups are an hour apart


def test_the_skipped_hour_is_not_counted_and_a_session_across_it_lasts_its_real_length():
    night = make_night(days=())
    start = _at(SPRING, 1, 45)  # 01:45 EST; an hour later it is 03:45 EDT
    AppointmentFactory(chair=night.chairs[0], starts_at=start, ends_at=start.astimezone(dt.UTC) + dt.timedelta(hours=1))
    _, _, use = _report(night.site, SPRING)
    assert use.get(2) is None  # 02:00-03:00 did not happen that night
    busy = {1: 15, 3: 45}  # minutes of chair 1, out of 2 chairs x 60
    assert use[1] == pytest.approx(busy[1] / 120) and use[3] == pytest.approx(busy[3] / 120)
