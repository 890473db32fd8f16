"""Plan changes that are clinical decisions (a new induction, the maintenance interval, the
review date, ending the plan) belong to prescribers: in the service, the API and the chart.
A maintenance patient's plan cannot get a second induction through "book a course" either:
that is the front desk's button, and a new induction goes through the prescriber's action."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.errors import DomainError
from scheduling import services
from scheduling.models import Phase, PlanStatus, TreatmentPlan
from tests.scheduling.conftest import NOW, START, make_clinic
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    with time_machine.travel(NOW, tick=False):
        yield make_clinic(days=60)


@pytest.fixture
def maintenance_plan(clinic) -> TreatmentPlan:
    """A plan past its induction: active, in maintenance, no induction session to come."""
    plan = clinic.plan()
    TreatmentPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.ACTIVE, phase=Phase.MAINTENANCE)
    plan.refresh_from_db()
    return plan


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_front_desk_cannot_book_a_new_induction_course_for_a_maintenance_plan(clinic, maintenance_plan):
    response = _api(clinic.front_desk.user).post(
        f"/api/v1/plans/{maintenance_plan.pk}/book-course/", {"start_date": "2026-03-09"}, format="json"
    )
    assert response.status_code == 409, response.content
    assert maintenance_plan.appointments.count() == 0


def test_the_booking_service_refuses_a_course_for_a_maintenance_plan_whoever_asks(clinic, maintenance_plan):
    with pytest.raises(DomainError, match="prescriber"):
        services.course_book(plan=maintenance_plan, actor=clinic.prescriber.user, now=NOW, start_date=START)


def test_the_chart_offers_the_front_desk_no_course_booking_for_a_maintenance_plan(client, clinic, maintenance_plan):
    login(client, clinic.front_desk.user)
    chart = client.get(reverse("web:patient", args=[maintenance_plan.patient_id]))
    assert chart.status_code == 200
    assert reverse("web:book-course", args=[maintenance_plan.pk]).encode() not in chart.content
    response = client.post(reverse("web:book-course", args=[maintenance_plan.pk]), {"start_date": "2026-03-09"})
    assert response.status_code == 409
    assert maintenance_plan.appointments.count() == 0


@pytest.mark.parametrize(
    ("change", "kwargs"),
    [
        (services.plan_new_induction, {"start_date": START}),
        (services.plan_change_interval, {"days": 21}),
        (services.plan_change_review_date, {"review_date": START.replace(year=2027)}),
        (services.plan_end, {}),
    ],
    ids=["new induction", "interval", "review date", "end"],
)
@pytest.mark.parametrize("who", ["front_desk", "nurse"])
def test_only_a_prescriber_may_make_a_clinical_plan_decision_in_the_service(
    clinic, maintenance_plan, change, kwargs, who
):
    actor = clinic.front_desk.user if who == "front_desk" else clinic.nurses[0].user
    version = maintenance_plan.version
    with pytest.raises(DomainError, match="prescriber") as refused:
        change(plan=maintenance_plan, reason="Relapse", actor=actor, now=NOW, **kwargs)
    assert refused.value.http_status == 403
    maintenance_plan.refresh_from_db()
    assert maintenance_plan.version == version


def test_a_prescriber_starts_the_new_induction(clinic, maintenance_plan):
    booked = services.plan_new_induction(
        plan=maintenance_plan, start_date=START, reason="PHQ-9 back to 19", actor=clinic.prescriber.user, now=NOW
    )
    assert len(booked) == 6
    maintenance_plan.refresh_from_db()
    assert (maintenance_plan.phase, maintenance_plan.induction_round) == (Phase.INDUCTION, 2)


@pytest.mark.parametrize("action", ["new-induction", "change-interval", "change-review-date", "end"])
def test_a_nurse_gets_403_for_a_clinical_plan_decision_in_the_api(clinic, maintenance_plan, action):
    body = {"reason": "Relapse", "start_date": "2026-03-09", "days": 21, "review_date": "2027-03-01"}
    response = _api(clinic.nurses[0].user).post(
        f"/api/v1/plans/{maintenance_plan.pk}/{action}/",
        body,
        format="json",
        HTTP_IF_MATCH=f'"{maintenance_plan.version}"',
    )
    assert response.status_code == 403, response.content


def test_the_chart_offers_a_nurse_only_pause_and_refuses_a_posted_new_induction(client, clinic, maintenance_plan):
    login(client, clinic.nurses[0].user)
    chart = client.get(reverse("web:patient", args=[maintenance_plan.patient_id]))
    offered = [value for value, _ in chart.context["adjust_form"].fields["action"].choices]
    assert offered == ["pause"]
    response = client.post(
        reverse("web:plan-adjust", args=[maintenance_plan.pk]),
        {
            "action": "new_induction",
            "from_date": "2026-03-09",
            "reason": "Relapse",
            "version": maintenance_plan.version,
        },
    )
    assert response.status_code == 400
    maintenance_plan.refresh_from_db()
    assert maintenance_plan.induction_round == 1


def test_the_chart_offers_a_prescriber_every_change(client, clinic, maintenance_plan):
    login(client, clinic.prescriber.user)
    chart = client.get(reverse("web:patient", args=[maintenance_plan.patient_id]))
    offered = {value for value, _ in chart.context["adjust_form"].fields["action"].choices}
    assert offered == {"interval", "pause", "end", "new_induction"}
