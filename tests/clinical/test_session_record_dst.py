"""The session record's times on the nights the clocks change: the page pre-fills instants worked
out in UTC and shown on the site's wall clock, and the form reads a repeated time as the latest
occurrence that has already come."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinical.models import Administration
from scheduling.models import AppointmentStatus
from tests.clinical_helpers import record_pre_vitals
from tests.factories import AppointmentFactory, PatientFactory
from tests.night_clinic import ADMIN_FIELDS, UTC, input_value, login, make_night


@pytest.fixture
def night(db):
    return make_night()


def _checked_in(night, starts_at: dt.datetime):
    session = AppointmentFactory(
        patient=PatientFactory(home_site=night.site, escort_name="Sam"),
        chair=night.chairs[0],
        nurse=night.nurse,
        starts_at=starts_at,
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=starts_at - dt.timedelta(minutes=5),
    )
    return session


def _post_page_defaults(client, session, now: dt.datetime):
    url = reverse("clinical:session", args=[session.pk])
    with time_machine.travel(now, tick=False):
        page = client.get(url).content.decode()
        started = input_value(page, "started_at")
        ended = input_value(page, "ended_at")
        response = client.post(
            url, {**ADMIN_FIELDS, "given_by": session.nurse.pk, "started_at": started, "ended_at": ended}
        )
    return started, ended, response


def test_spring_forward_the_administration_form_prefills_a_start_that_does_not_exist(client, night):
    """At 03:20 EDT on 8 March, for a session that began at 01:00 EST, the infusion's default start
    is 40 minutes before now, 01:40 EST (not 02:40, which the clocks skipped); the page's own
    defaults are accepted."""
    session = _checked_in(night, dt.datetime(2026, 3, 8, 6, 0, tzinfo=UTC))  # 01:00 EST
    record_pre_vitals(session, night.nurse.user, now=dt.datetime(2026, 3, 8, 6, 2, tzinfo=UTC))
    login(client, night.nurse.user)
    now = dt.datetime(2026, 3, 8, 7, 20, tzinfo=UTC)  # 03:20 EDT
    started, ended, response = _post_page_defaults(client, session, now)
    assert ended == "2026-03-08T03:20"
    body = response.content.decode()
    assert response.status_code == 302, f"pre-filled start {started}: " + (
        "refused as nonexistent" if "does not exist" in body else body[:500]
    )
    assert Administration.objects.get(appointment=session).started_at == dt.datetime(2026, 3, 8, 6, 40, tzinfo=UTC)


FALL_BACK = [
    # zone, session start (00:30 summer time), pre-infusion vitals, now (the second 01:10)
    pytest.param(
        "America/New_York",
        dt.datetime(2026, 11, 1, 4, 30, tzinfo=UTC),
        dt.datetime(2026, 11, 1, 4, 35, tzinfo=UTC),
        dt.datetime(2026, 11, 1, 6, 10, tzinfo=UTC),
        id="new-york",
    ),
    pytest.param(
        "Europe/London",
        dt.datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
        dt.datetime(2026, 10, 24, 23, 35, tzinfo=UTC),
        dt.datetime(2026, 10, 25, 1, 10, tzinfo=UTC),
        id="london",
    ),
]


@pytest.mark.parametrize(("zone", "starts_at", "vitals_at", "now"), FALL_BACK)
def test_fall_back_the_administration_recorded_with_the_pages_own_now_is_an_hour_early(
    client, db, zone, starts_at, vitals_at, now
):
    """At 01:10 standard time on the night the clocks go back (the second 01:10), the end of the
    infusion the page pre-fills as "now" is stored as that instant, not the first 01:10 an hour
    before (the administration and its line in the controlled-substance register)."""
    night = make_night(time_zone=zone, days=())
    session = _checked_in(night, starts_at)
    record_pre_vitals(session, night.nurse.user, now=vitals_at)
    login(client, night.nurse.user)
    _, ended, response = _post_page_defaults(client, session, now)
    assert response.status_code == 302, response.content.decode()[:2000]
    administration = Administration.objects.get(appointment=session)
    assert administration.ended_at == now, (
        f"the page's own 'now' ({ended}) was stored as {administration.ended_at.isoformat()}"
    )
