"""Where a session's time outside the open chair time goes on the capacity page: a chair put out of
use after sessions were booked in it, and a site closing early. Chair use is of each chair's own
open time (never over 100 %); time past the day's real closing (the end of its last open span) is
overtime; time in a closure while the site is still open after it (a chair's own, or a break
mid-day) is neither."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.models import Closure
from clinical.models import Recovery
from clinical.selectors import CapacityWindow, capacity_report
from scheduling.models import AppointmentStatus
from tests.factories import AppointmentFactory
from tests.scheduling.conftest import NOW, make_clinic

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY = dt.date(2026, 3, 4)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


def _report(site):
    report = capacity_report(site=site, windows=[CapacityWindow("day", WEDNESDAY, WEDNESDAY)], now=NOW)
    period = report.periods[0]
    return period, dict(zip(report.hours, period.chair_utilisation, strict=True))


def _discharged(clinic, chair, starts: dt.datetime, ends: dt.datetime, discharged: dt.datetime):
    nurse = clinic.nurses[0]
    session = AppointmentFactory(
        chair=chair,
        nurse=nurse,
        starts_at=starts,
        ends_at=ends,
        status=AppointmentStatus.COMPLETED,
        completed_at=discharged,
    )
    Recovery.objects.create(
        appointment=session,
        driver_name="Chris",
        discharged_at=discharged,
        recorded_by=nurse.user,
        recorded_at=discharged,
    )
    return session


def test_a_session_in_a_chair_put_out_of_use_after_it_was_booked_does_not_put_chair_use_over_100_percent():
    # Two chairs, both busy 08:00-10:00; chair 1 then put out of use 08:00-10:00 (a pump broke) before
    # the desk moved its session. Open chair time at 08:00 is chair 2's 60 minutes, and so is the use:
    # chair 1's session falls in no open chair time (the site-wide closure case is clipped the same way).
    clinic = make_clinic(chairs=2)
    one, two = clinic.chairs
    for chair in (one, two):
        AppointmentFactory(chair=chair, starts_at=_at(WEDNESDAY, 8), ends_at=_at(WEDNESDAY, 10))
    Closure.objects.create(
        site=clinic.site, chair=one, starts_at=_at(WEDNESDAY, 8), ends_at=_at(WEDNESDAY, 10), reason="Pump broken"
    )

    period, use = _report(clinic.site)

    assert use[8] == pytest.approx(1.0) and use[9] == pytest.approx(1.0)
    assert use[10] == pytest.approx(0.0)
    # The site stayed open: the time in the chair's own closure is not overtime either.
    assert (period.overtime_minutes, period.overtime_sessions, period.overtime_days) == (0, 0, 0)


def test_a_session_partly_in_its_chairs_closure_counts_only_its_open_part():
    # Chair 1 out of use 09:00-12:00; its session 08:00-10:00 uses 08:00-09:00 of it. At 09:00 the open
    # chair time is chair 2's hour alone, idle; another chair's closure takes nothing of chair 2's use.
    clinic = make_clinic(chairs=2)
    one, _two = clinic.chairs
    AppointmentFactory(chair=one, starts_at=_at(WEDNESDAY, 8), ends_at=_at(WEDNESDAY, 10))
    Closure.objects.create(
        site=clinic.site, chair=one, starts_at=_at(WEDNESDAY, 9), ends_at=_at(WEDNESDAY, 12), reason="Pump broken"
    )

    _, use = _report(clinic.site)

    assert use[8] == pytest.approx(60 / 120)
    assert use[9] == pytest.approx(0 / 60)


def test_a_session_running_past_an_early_closing_counts_as_overtime():
    # Open 08:00-18:00, but on Wednesday the site closes at 14:00 (a closure 14:00-18:00: an early
    # closing for a staff event). A session 13:00-15:00 ran to its end, the patient discharged at
    # 15:00: an hour past the day's real closing. Chair use counts only its 13:00-14:00 (the open time);
    # the hour after it is overtime.
    clinic = make_clinic(chairs=1)
    Closure.objects.create(
        site=clinic.site, starts_at=_at(WEDNESDAY, 14), ends_at=_at(WEDNESDAY, 18), reason="Closing early"
    )
    _discharged(clinic, clinic.chairs[0], _at(WEDNESDAY, 13), _at(WEDNESDAY, 15), _at(WEDNESDAY, 15))

    period, use = _report(clinic.site)

    assert use[13] == 1.0 and use[14] is None  # the open hour used; no open chair time after 14:00
    assert (period.overtime_minutes, period.overtime_sessions, period.overtime_days) == (60, 1, 1)


def test_a_session_wholly_after_an_early_closing_counts_its_own_length_as_overtime():
    # Closed from 14:00; a session booked 15:00-17:00 before the closure was made, held and discharged
    # at 17:10: 130 minutes past closing, not the 190 from 14:00 to its end (it did not start until 15:00).
    clinic = make_clinic(chairs=1)
    Closure.objects.create(
        site=clinic.site, starts_at=_at(WEDNESDAY, 14), ends_at=_at(WEDNESDAY, 18), reason="Closing early"
    )
    _discharged(clinic, clinic.chairs[0], _at(WEDNESDAY, 15), _at(WEDNESDAY, 17), _at(WEDNESDAY, 17, 10))

    period, use = _report(clinic.site)

    assert all(use[hour] is None for hour in range(14, 19))
    assert (period.overtime_minutes, period.overtime_sessions, period.overtime_days) == (130, 1, 1)


def test_a_session_across_a_break_mid_day_is_not_overtime():
    # Closed 12:00-13:00 for a staff meeting, open again until 18:00: a session 11:00-13:00 used its
    # 11:00 hour; its hour in the break is neither chair use nor overtime (the site had not closed).
    clinic = make_clinic(chairs=1)
    Closure.objects.create(site=clinic.site, starts_at=_at(WEDNESDAY, 12), ends_at=_at(WEDNESDAY, 13), reason="Meeting")
    _discharged(clinic, clinic.chairs[0], _at(WEDNESDAY, 11), _at(WEDNESDAY, 13), _at(WEDNESDAY, 13))

    period, use = _report(clinic.site)

    assert use[11] == 1.0 and use[12] is None and use[13] == 0.0
    assert (period.overtime_minutes, period.overtime_sessions) == (0, 0)


def test_a_day_closed_all_day_has_no_closing_to_run_past():
    # Closed all Wednesday (a flood) after a session 17:00-19:00 was booked, and it was held anyway: the
    # day is no open day, so neither its chair time nor minutes past a closing it never had are counted
    # (the per-open-day figures would otherwise count a day they leave out).
    clinic = make_clinic(chairs=1)
    Closure.objects.create(
        site=clinic.site, starts_at=_at(WEDNESDAY, 0), ends_at=_at(WEDNESDAY, 23, 59), reason="Flood"
    )
    _discharged(clinic, clinic.chairs[0], _at(WEDNESDAY, 17), _at(WEDNESDAY, 19), _at(WEDNESDAY, 19))

    period, use = _report(clinic.site)

    assert (period.sessions, period.open_days) == (1, 0)
    assert set(use.values()) == {None}
    assert (period.overtime_minutes, period.overtime_sessions, period.overtime_days) == (0, 0, 0)
