"""Resuming a paused maintenance plan at a level-loading site."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.models import Phase, PlanStatus, TreatmentPlan
from scheduling.services import appointment_book
from scheduling.services.plans import plan_resume
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, make_clinic

RESUME = dt.date(2026, 3, 11)  # a Wednesday; the patient is back from travel that day


@pytest.mark.django_db
def test_resumed_maintenance_never_starts_before_the_resume_date():
    clinic = make_clinic(placement_policy="level", chairs=2, nurses=1)
    plan = clinic.plan(maintenance_interval_days=28)
    TreatmentPlan.objects.filter(pk=plan.pk).update(phase=Phase.MAINTENANCE, status=PlanStatus.PAUSED)
    plan.refresh_from_db()
    # Another patient's session on the resume day makes the days before it look quieter.
    appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=dt.datetime.combine(RESUME, dt.time(14), tzinfo=clinic.site.zone),
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )

    created = plan_resume(
        plan=plan, resume_date=RESUME, reason="Back from travel", actor=clinic.prescriber.user, now=NOW
    )

    assert created
    first = min(a.starts_at for a in created).astimezone(clinic.site.zone).date()
    assert first >= RESUME, f"first maintenance session on {first}, before the resume date {RESUME}"
