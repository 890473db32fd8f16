"""The chart's plan timeline (web/chart.py timeline) shows each phase of the plan once, in the
plan's order (induction round 1, its maintenance, induction round 2, ...), whatever the dates of
its sessions: a new induction started before a maintenance session it released was split in two
around the released session. Each phase counts "N of M done" over its own sessions."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from scheduling.models import AppointmentStatus, Phase, PlanStatus
from tests.factories import AppointmentFactory, PatientFactory, PlanFactory
from tests.scheduling.conftest import NOW, make_clinic

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=NY)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):  # Friday 27 Feb 2026, 10:00 in New York
        yield NOW


def test_a_new_induction_started_before_a_released_maintenance_session_is_one_phase(client, frozen):
    clinic = make_clinic(setups_per_nurse=3)
    patient = PatientFactory(home_site=clinic.site)
    plan = PlanFactory(
        patient=patient,
        protocol=clinic.protocol,
        prescriber=clinic.prescriber,
        start_date=dt.date(2026, 1, 5),
        status=PlanStatus.ACTIVE,
        phase=Phase.MAINTENANCE,
    )
    chair, nurse = clinic.chairs[0], clinic.nurses[0]
    for number, day in enumerate((5, 7, 9, 12, 14, 16), start=1):
        AppointmentFactory(
            patient=patient,
            plan=plan,
            sequence=number,
            chair=chair,
            nurse=nurse,
            starts_at=_at(dt.date(2026, 1, day)),
            status=AppointmentStatus.COMPLETED,
            phase=Phase.INDUCTION,
        )
    AppointmentFactory(
        patient=patient,
        plan=plan,
        sequence=7,
        chair=chair,
        nurse=nurse,
        starts_at=_at(dt.date(2026, 2, 13)),
        status=AppointmentStatus.COMPLETED,
        phase=Phase.MAINTENANCE,
    )
    # The next maintenance session, on Thursday 5 March: a relapse starts a new induction from 2 March,
    # which releases it.
    AppointmentFactory(
        patient=patient,
        plan=plan,
        sequence=8,
        chair=chair,
        nurse=nurse,
        starts_at=_at(dt.date(2026, 3, 5)),
        phase=Phase.MAINTENANCE,
    )
    client.force_login(clinic.prescriber.user)
    response = client.post(
        reverse("web:plan-adjust", args=[plan.pk]),
        {"action": "new_induction", "from_date": "2026-03-02", "reason": "Relapse", "version": plan.version},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    booked = plan.appointments.filter(induction_round=2, status=AppointmentStatus.BOOKED)
    assert booked.filter(starts_at__lt=_at(dt.date(2026, 3, 5))).exists()  # the case: round 2 around 5 March
    assert booked.filter(starts_at__gt=_at(dt.date(2026, 3, 5))).exists()

    phases = client.get(reverse("web:patient", args=[patient.pk])).context["timeline"]

    assert [phase["title"] for phase in phases] == ["Induction", "Maintenance", "Induction round 2"]
    induction, maintenance, round_two = phases
    assert (induction["done"], induction["total"]) == (6, max(6, clinic.protocol.induction_session_count))
    assert (maintenance["done"], maintenance["total"], maintenance["released"]) == (1, 1, 1)
    assert len(round_two["sessions"]) == booked.count()
    assert (round_two["done"], round_two["total"]) == (0, max(booked.count(), clinic.protocol.induction_session_count))
