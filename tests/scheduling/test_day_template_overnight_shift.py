"""A shift counts in the day template on each open local day whose opening it overlaps, with its
hours on that day: a night clinic (open Sundays 00:00-06:00, New York) whose nurse works overnight,
Saturday 22:00 to Sunday 07:00, has her on its typical day from 00:00 to 07:00, as booking gives her
the Sunday sessions. Neither dropped (Saturday is not an open day) nor read as 22:00-23:59."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.models import Role, Shift
from scheduling.models import DayTemplateState
from scheduling.services import appointment_book, plan_create
from scheduling.services.day_template import day_template_regenerate
from tests.factories import ChairFactory, PatientFactory, ProtocolFactory, SiteFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
# A Wednesday in June (no clock change near): the shifts are the Saturday nights around it.
NOW = dt.datetime(2026, 6, 17, 18, tzinfo=dt.UTC)
SATURDAYS = [dt.date(2026, 5, 23) + dt.timedelta(weeks=n) for n in range(8)]


def _night_site():
    site = SiteFactory(hours={6: (dt.time(0), dt.time(6))}, placement_policy="level")
    chair = ChairFactory(site=site, name="Chair 1")
    nurse = StaffFactory(role=Role.NURSE, user=UserFactory(username="overnight"), sites=[site])
    for saturday in SATURDAYS:
        Shift.objects.create(
            staff=nurse,
            site=site,
            starts_at=dt.datetime.combine(saturday, dt.time(22), tzinfo=NY),
            ends_at=dt.datetime.combine(saturday + dt.timedelta(days=1), dt.time(7), tzinfo=NY),
        )
    return site, chair, nurse


def test_the_template_of_a_night_clinic_counts_the_overnight_nurse_on_the_day_she_covers():
    site, chair, nurse = _night_site()
    protocol = ProtocolFactory()

    template = day_template_regenerate(site=site, actor=nurse.user, now=NOW)

    assert template.inputs["nurse_shifts"] == [["00:00", "07:00"]]
    assert template.state == DayTemplateState.DONE, template.error
    assert template.sessions_per_day >= 3  # one chair, 00:00-06:00, 120-minute sessions
    # Booking agrees: her overnight shift is the one a Sunday session is given to.
    prescriber = StaffFactory(role=Role.PRESCRIBER, user=UserFactory(username="nightdr"), sites=[site])
    patient = PatientFactory(home_site=site)
    plan = plan_create(
        patient=patient,
        protocol=protocol,
        prescriber=prescriber,
        start_date=dt.date(2026, 6, 20),
        actor=prescriber.user,
    )
    session = appointment_book(
        patient=patient,
        plan=plan,
        site=site,
        starts_at=dt.datetime(2026, 6, 21, 1, tzinfo=NY),
        chair=chair,
        actor=prescriber.user,
        now=NOW,
    )
    assert session.nurse == nurse


def test_a_shift_that_misses_the_opening_hours_is_not_on_the_typical_day():
    site, _, nurse = _night_site()
    ProtocolFactory()
    # An evening shift on Sundays after closing: nobody can be booked on it.
    other = StaffFactory(role=Role.NURSE, user=UserFactory(username="evening"), sites=[site])
    for saturday in SATURDAYS:
        sunday = saturday + dt.timedelta(days=1)
        Shift.objects.create(
            staff=other,
            site=site,
            starts_at=dt.datetime.combine(sunday, dt.time(18), tzinfo=NY),
            ends_at=dt.datetime.combine(sunday, dt.time(22), tzinfo=NY),
        )

    template = day_template_regenerate(site=site, actor=nurse.user, now=NOW)

    assert template.inputs["nurse_shifts"] == [["00:00", "07:00"]]
