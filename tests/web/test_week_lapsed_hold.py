"""A FHIR $hold whose lapse time has passed is free time, though the minute's sweep may not have
cancelled it yet: the week page leaves it out as the day board does (one rule, lapsed_holds),
while a hold still running is listed. The clock stands at a fixed instant (time-machine)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from scheduling.models import Appointment, AppointmentStatus
from tests.factories import PatientFactory
from tests.web.conftest import NOW, START, login

pytestmark = pytest.mark.django_db

# Fri 6 Mar 2026, 16:00 in New York: no session of the fixture's courses is on that chair then.
HELD_AT = dt.datetime(2026, 3, 6, 21, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=30)


def _hold(web, *, first: str, starts_at: dt.datetime, expires_at: dt.datetime) -> Appointment:
    patient = PatientFactory(home_site=web.clinic.site, first_name=first, last_name="Holder")
    return Appointment.objects.create(
        patient=patient,
        site=web.clinic.site,
        chair=web.clinic.chairs[-1],
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=100),
        status=AppointmentStatus.HELD,
        hold_expires_at=expires_at,
    )


def _week(client, web) -> dict[int, Appointment]:
    login(client, web.desk.user)
    response = client.get(reverse("web:week"), {"day": START.isoformat()})
    assert response.status_code == 200
    return {a.pk: a for _day, sessions, _closures, _counts in response.context["days"] for a in sessions}


def test_a_lapsed_hold_is_left_off_the_week_as_off_the_board_before_the_sweep(client, web):
    lapsed = _hold(web, first="Lapsed", starts_at=HELD_AT, expires_at=LATER - dt.timedelta(minutes=1))
    running = _hold(
        web, first="Running", starts_at=HELD_AT - dt.timedelta(hours=3), expires_at=LATER + dt.timedelta(minutes=10)
    )

    with time_machine.travel(LATER, tick=False):
        listed = _week(client, web)
        page = client.get(reverse("web:week"), {"day": START.isoformat()}).content.decode()
        board = client.get(reverse("web:board"), {"day": "2026-03-06"})

    # Not swept yet: still held in the database.
    lapsed.refresh_from_db()
    assert lapsed.status == AppointmentStatus.HELD
    assert lapsed.pk not in listed
    assert "Lapsed Holder" not in page
    assert running.pk in listed
    assert "Running Holder" in page
    # The board's rule, the same answer.
    assert lapsed.pk not in {a.pk for a in board.context["sessions"]}
    assert running.pk in {a.pk for a in board.context["sessions"]}
