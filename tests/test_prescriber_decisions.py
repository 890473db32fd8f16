"""Plan changes that are clinical decisions (a new induction, the maintenance interval, the
review date, ending the plan) belong to prescribers: in the service, the API and the chart.
A maintenance patient's plan cannot get a second induction through "book a course" either:
that is the front desk's button, and a new induction goes through the prescriber's action."""

from __future__ import annotations

import datetime as dt

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
    # Not offered, and refused as the API refuses it: the prescriber's decision (403).
    assert response.status_code == 403
    assert "Starting a new induction is a prescriber&#x27;s decision." in response.content.decode()
    maintenance_plan.refresh_from_db()
    assert maintenance_plan.induction_round == 1


def test_the_chart_offers_a_prescriber_every_change(client, clinic, maintenance_plan):
    login(client, clinic.prescriber.user)
    chart = client.get(reverse("web:patient", args=[maintenance_plan.patient_id]))
    offered = {value for value, _ in chart.context["adjust_form"].fields["action"].choices}
    assert offered == {"interval", "review", "pause", "end", "new_induction"}


# Accepting a break of the plan's rules (a session closer to the last one than the protocol allows)
# is a clinical decision too: a nurse may not take it, in the service, the API or the web.


def _course(clinic):
    plan = clinic.plan()
    proposal = services.course_propose(plan=plan, start_date=START, now=NOW)
    return plan, services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, sessions=proposal.sessions)


def test_only_a_prescriber_may_accept_a_rule_break_in_the_service(clinic):
    _plan, booked = _course(clinic)
    too_close = booked[1].starts_at - dt.timedelta(hours=24)
    with pytest.raises(DomainError, match="prescriber") as refused:
        services.appointment_move(
            appointment=booked[1],
            starts_at=too_close,
            actor=clinic.nurses[0].user,
            now=NOW,
            override_reason="Patient travels",
        )
    assert refused.value.http_status == 403
    booked[1].refresh_from_db()
    assert booked[1].rule_override_reason == ""


def test_a_nurse_gets_403_for_accepting_a_rule_break_in_the_api_and_a_prescriber_201(clinic):
    plan, booked = _course(clinic)
    body = {
        "patient": plan.patient_id,
        "site": clinic.site.pk,
        "plan": plan.pk,
        "starts_at": (booked[0].starts_at + dt.timedelta(hours=24)).isoformat(),
        "override_reason": "BP 150/95 accepted",
    }
    with time_machine.travel(NOW, tick=False):
        response = _api(clinic.nurses[0].user).post("/api/v1/appointments/", body, format="json")
        assert response.status_code == 403, response.content
        assert "prescriber's decision" in response.json()["error"]["message"]
        assert plan.appointments.count() == len(booked)
        response = _api(clinic.prescriber.user).post("/api/v1/appointments/", body, format="json")
        assert response.status_code == 201, response.content


def test_the_move_page_offers_a_nurse_no_rule_break_and_refuses_a_posted_one(client, clinic):
    _plan, booked = _course(clinic)
    session = booked[1]
    day = session.starts_at.astimezone(clinic.site.zone).date()
    search = {"first_day": (day - dt.timedelta(days=1)).isoformat(), "last_day": day.isoformat()}
    login(client, clinic.nurses[0].user)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("web:move-session", args=[session.pk]), search)
        assert page.status_code == 200
        assert b'name="override_reason"' not in page.content
        refused = [c for row in page.context["days"] for c in row["choices"] if c["refused"]]
        assert refused
        response = client.post(
            reverse("web:move-session", args=[session.pk]),
            {**search, "slot": refused[0]["value"], "override_reason": "Patient travels"},
        )
    assert response.status_code == 403
    assert "prescriber" in response.content.decode()
    session.refresh_from_db()
    assert session.starts_at == booked[1].starts_at


def test_the_nurse_plan_form_shows_only_what_a_nurse_may_do(client, clinic, maintenance_plan):
    login(client, clinic.nurses[0].user)
    page = client.get(reverse("web:patient", args=[maintenance_plan.patient_id])).content.decode()
    assert 'value="pause"' in page
    assert 'name="interval_days"' not in page
    assert 'name="from_date"' not in page
    assert "Resume or restart from" not in page
    client.logout()
    login(client, clinic.prescriber.user)
    page = client.get(reverse("web:patient", args=[maintenance_plan.patient_id])).content.decode()
    assert 'name="interval_days"' in page and 'name="from_date"' in page
