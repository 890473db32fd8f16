"""Helpers for tests of a night clinic in New York (open Sundays 00:00-06:00), so sessions fall on the hours the
clocks change: 8 March 2026 (02:00-03:00 does not exist) and 1 November 2026 (01:00-02:00
happens twice). Sessions are made directly with the factories; each test sets its own clock.

Personas: a nurse and a front-desk member of the night site."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.http import HttpRequest

from clinic.models import Chair, Role, Shift, Site, StaffMember
from tests.factories import PASSWORD, ChairFactory, SiteFactory, StaffFactory, UserFactory

NY = ZoneInfo("America/New_York")
UTC = dt.UTC
SPRING = dt.date(2026, 3, 8)
AUTUMN = dt.date(2026, 11, 1)


# The administration form of the session page, but for its times and who gave it.
ADMIN_FIELDS = {
    "form": "administration",
    "route": "iv",
    "dose_mg_per_kg": "0.5",
    "weight_kg": "70",
    "total_mg": "35",
    "lot_number": "LOT-1",
}


@dataclass
class Night:
    site: Site
    chairs: list[Chair]
    nurse: StaffMember
    desk: StaffMember


def make_night(*, time_zone: str = "America/New_York", days: tuple[dt.date, ...] = (SPRING, AUTUMN)) -> Night:
    zone = ZoneInfo(time_zone)
    site = SiteFactory(time_zone=time_zone, hours={6: (dt.time(0), dt.time(6))})
    chairs = [ChairFactory(site=site, name=f"Chair {i}") for i in (1, 2)]
    nurse = StaffFactory(role=Role.NURSE, user=UserFactory(username="nightnurse"), sites=[site])
    desk = StaffFactory(role=Role.FRONT_DESK, user=UserFactory(username="nightdesk"), sites=[site])
    for day in days:
        Shift.objects.create(
            staff=nurse,
            site=site,
            starts_at=dt.datetime.combine(day, dt.time(0), tzinfo=zone),
            ends_at=dt.datetime.combine(day, dt.time(8), tzinfo=zone),
        )
    return Night(site=site, chairs=chairs, nurse=nurse, desk=desk)


def login(client, user) -> None:
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)


def input_value(html: str, name: str) -> str:
    """The pre-filled value of the form input called `name`."""
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert tag is not None, name
    value = re.search(r'value="([^"]*)"', tag.group(0))
    assert value is not None, tag.group(0)
    return value.group(1)
