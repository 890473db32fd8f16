"""Nurse use on the capacity page counts the nurses on shift as the board does: a nurse who has
left (made inactive) or been taken off the site's staff keeps the shifts she worked, but none to
come. `now` is the report's, passed in."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinical.selectors import CapacityWindow, capacity_report
from tests.factories import AppointmentFactory
from tests.scheduling.conftest import NOW, make_clinic

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY = dt.date(2026, 3, 4)  # after NOW (Friday 27 February): booked ahead


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


def _nurse_use_at_8(clinic, now: dt.datetime) -> float | None:
    report = capacity_report(site=clinic.site, windows=[CapacityWindow("day", WEDNESDAY, WEDNESDAY)], now=now)
    return dict(zip(report.hours, report.periods[0].nurse_utilisation, strict=True))[8]


@pytest.fixture
def two_nurses():
    # Two nurses on shift 07:30-18:30 every day. On Wednesday 4 March one session 08:00-10:00: 20
    # minutes' setup and a 5-minute check at 08:40 in the 08:00 hour, all nurse 1's.
    clinic = make_clinic(nurses=2)
    AppointmentFactory(
        chair=clinic.chairs[0], nurse=clinic.nurses[0], starts_at=_at(WEDNESDAY, 8), ends_at=_at(WEDNESDAY, 10)
    )
    return clinic


def test_both_nurses_on_shift_share_the_hour(two_nurses):
    assert _nurse_use_at_8(two_nurses, NOW) == pytest.approx(25 / 120)


def test_a_nurse_who_has_left_does_not_count_as_on_shift_in_the_days_booked_ahead(two_nurses):
    # Nurse 2 leaves on Friday 27 Feb (made inactive: the board, booking and the day template no longer
    # count her; her typed-in shifts stay). Nurse use at 08:00 on the Wednesday after is 25 of nurse
    # 1's 60 minutes; counting the nurse who left would halve it.
    leaver = two_nurses.nurses[1]
    leaver.active = False
    leaver.save(update_fields=["active"])

    assert _nurse_use_at_8(two_nurses, NOW) == pytest.approx(25 / 60)


def test_a_nurse_who_has_left_keeps_the_shifts_she_worked(two_nurses):
    # Looked back on after the Wednesday, her shift that day has ended: it is taken as worked, as the
    # board takes it (the staff row keeps no day she left), and the hour is shared again.
    leaver = two_nurses.nurses[1]
    leaver.active = False
    leaver.save(update_fields=["active"])

    assert _nurse_use_at_8(two_nurses, NOW + dt.timedelta(days=14)) == pytest.approx(25 / 120)


def test_a_nurse_taken_off_the_sites_staff_does_not_count_in_the_days_ahead(two_nurses):
    moved = two_nurses.nurses[1]
    moved.sites.clear()

    assert _nurse_use_at_8(two_nurses, NOW) == pytest.approx(25 / 60)


def test_a_clinic_wide_nurse_counts_at_every_site_without_being_listed_on_it(two_nurses):
    roaming = two_nurses.nurses[1]
    roaming.sites.clear()
    roaming.all_sites = True
    roaming.save(update_fields=["all_sites"])

    assert _nurse_use_at_8(two_nurses, NOW) == pytest.approx(25 / 120)


def test_a_nurse_taken_off_the_sites_staff_keeps_the_shifts_she_worked_there(two_nurses):
    moved = two_nurses.nurses[1]
    moved.sites.clear()

    assert _nurse_use_at_8(two_nurses, NOW + dt.timedelta(days=14)) == pytest.approx(25 / 120)
