"""The session page on the night the clocks go back, with an infusion longer than an hour (pain
protocols run 90 minutes and more): the page's own pre-filled start, in the repeated hour, is
stored as the instant it showed."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinical.models import Administration
from scheduling.models import AppointmentStatus
from tests.clinical_helpers import record_pre_vitals
from tests.factories import AppointmentFactory, PatientFactory, PlanFactory, ProtocolFactory
from tests.night_clinic import ADMIN_FIELDS, UTC, input_value, login, make_night


@pytest.fixture
def night(db):
    return make_night(days=())


def test_fall_back_the_pages_own_default_start_of_a_90_minute_infusion_is_stored_an_hour_late(client, night):
    """At 01:50 EST (the second 01:50) on 1 November, a 90-minute infusion's default start is 01:20
    EDT (05:20 UTC), the first 01:20: posted back as the page showed it, it is stored as that."""
    protocol = ProtocolFactory(name="IV ketamine for pain, 90 minutes", infusion_minutes=90, session_minutes=180)
    patient = PatientFactory(home_site=night.site, escort_name="Sam")
    plan = PlanFactory(patient=patient, protocol=protocol, start_date=dt.date(2026, 10, 30))
    starts_at = dt.datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 00:00 EDT
    session = AppointmentFactory(
        patient=patient,
        plan=plan,
        chair=night.chairs[0],
        nurse=night.nurse,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=180),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=starts_at - dt.timedelta(minutes=5),
    )
    record_pre_vitals(session, night.nurse.user, now=starts_at + dt.timedelta(minutes=5))
    login(client, night.nurse.user)
    now = dt.datetime(2026, 11, 1, 6, 50, tzinfo=UTC)  # 01:50 EST
    url = reverse("clinical:session", args=[session.pk])
    with time_machine.travel(now, tick=False):
        page = client.get(url).content.decode()
        started, ended = input_value(page, "started_at"), input_value(page, "ended_at")
        assert started == "2026-11-01T01:20", started  # the first 01:20 (EDT), 90 minutes before now
        # The page says which 01:20 and which 01:50 it means; a browser posts that with the times.
        occurrences = {
            f"{name}__occurrence": input_value(page, f"{name}__occurrence") for name in ("started_at", "ended_at")
        }
        assert occurrences == {
            "started_at__occurrence": "2026-11-01T01:20|-04:00",
            "ended_at__occurrence": "2026-11-01T01:50|-05:00",
        }
        response = client.post(
            url,
            {**ADMIN_FIELDS, "given_by": night.nurse.pk, "started_at": started, "ended_at": ended, **occurrences},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    administration = Administration.objects.get(appointment=session)
    assert administration.ended_at == now
    assert administration.started_at == now - dt.timedelta(minutes=90), (
        f"the page pre-filled {started} (05:20 UTC) but it was stored as {administration.started_at.isoformat()}"
    )
