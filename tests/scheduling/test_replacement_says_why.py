"""Issue 17: every proposal says in words why its times were chosen. A lost induction session's
replacement is chosen by the course site's placement policy (induction_reflow_propose, with a why
for each time): the no-show's and the cancel's answer (the desk's message, the plan's flag, the
API's `course_outcome`) say why, not only when."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from rest_framework.test import APIClient

from scheduling import services
from scheduling.models import Appointment
from scheduling.services.courses import induction_reflow_propose, induction_short_by
from tests.scheduling.conftest import NOW, START, make_clinic


def _why_of_first_replacement(plan, missed: Appointment, now: dt.datetime) -> tuple[dt.datetime, str]:
    plan.refresh_from_db()
    proposal = induction_reflow_propose(plan=plan, missed=Appointment.objects.get(pk=missed.pk), now=now)
    assert proposal is not None and proposal.whys, proposal
    return proposal.slots[0].start, proposal.whys[0].because


@pytest.mark.parametrize("policy", ["earliest", "level"])
@pytest.mark.django_db
def test_a_no_shows_replacement_says_why_its_time_was_chosen(policy):
    clinic = make_clinic(chairs=2, nurses=1, placement_policy=policy)
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=None, now=NOW, start_date=START)
    missed = course[1]
    now = missed.starts_at + dt.timedelta(minutes=30)
    outcome = services.appointment_mark_no_show(appointment=missed, actor=clinic.front_desk.user, now=now)
    assert outcome.replacement_starts_at is not None, outcome.course
    first, why = _why_of_first_replacement(plan, missed, now)
    assert first == outcome.replacement_starts_at
    assert why in outcome.course, f"the no-show's answer does not say why ({why!r}): {outcome.course!r}"
    assert why in outcome.replacement_why
    plan.refresh_from_db()
    assert why in plan.attention_reason


@pytest.mark.parametrize("policy", ["earliest", "level"])
@pytest.mark.django_db
def test_a_cancels_replacement_says_why_its_time_was_chosen(policy):
    clinic = make_clinic(chairs=2, nurses=1, placement_policy=policy)
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=None, now=NOW, start_date=START)
    lost = course[2]
    outcome = services.appointment_cancel(appointment=lost, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    assert outcome.replacement_starts_at is not None, outcome.course
    first, why = _why_of_first_replacement(plan, lost, NOW)
    assert first == outcome.replacement_starts_at
    label = f"{first.astimezone(clinic.site.zone):%a %-d %b %Y %H:%M}, Chair "  # the time and the chair
    assert f"the first replacement that fits is {label}" in outcome.course
    assert f", not booked yet (why this time: {why})" in outcome.course
    assert why in outcome.course and why in outcome.replacement_why
    assert outcome.as_dict()["replacement_why"] == outcome.replacement_why


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_the_apis_cancel_and_no_show_answers_carry_the_replacements_why():
    clinic = make_clinic(chairs=2, nurses=1, placement_policy="level")
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=None, now=NOW, start_date=START)
    with time_machine.travel(NOW, tick=False):
        cancelled = _client(clinic.front_desk.user).post(
            f"/api/v1/appointments/{course[3].pk}/cancel/", {"reason": "Flu"}, format="json"
        )
    assert cancelled.status_code == 200, cancelled.content
    outcome = cancelled.json()["course_outcome"]
    assert outcome["replacement_starts_at"] and outcome["replacement_why"]
    assert outcome["replacement_why"] in outcome["summary"]

    missed = course[1]
    with time_machine.travel(missed.starts_at + dt.timedelta(minutes=30), tick=False):
        marked = _client(clinic.front_desk.user).post(f"/api/v1/appointments/{missed.pk}/no-show/", {}, format="json")
    assert marked.status_code == 200, marked.content
    outcome = marked.json()["course_outcome"]
    assert outcome["replacement_starts_at"] and outcome["replacement_why"]
    assert outcome["replacement_why"] in outcome["summary"]


@pytest.mark.django_db
def test_a_rebooked_cancel_has_no_replacement_why():
    clinic = make_clinic(chairs=2, nurses=1)
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=None, now=NOW, start_date=START)
    outcome = services.appointment_cancel(
        appointment=course[2], actor=clinic.front_desk.user, reason="Flu", now=NOW, rebook=True
    )
    assert outcome.rebooked and outcome.replacement_starts_at is None
    assert outcome.as_dict()["replacement_why"] is None


@pytest.mark.parametrize("policy", ["earliest", "level"])
@pytest.mark.django_db
def test_the_apis_cancel_answer_names_the_replacements_chair_and_nurse_and_it_books_as_offered(policy):
    """A desk system offering the replacement books exactly the time, chair and nurse the cancel's
    answer proposed, with the booking API's own fields, and the induction is whole again."""
    clinic = make_clinic(chairs=3, nurses=2, placement_policy=policy)
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=None, now=NOW, start_date=START)
    desk = _client(clinic.front_desk.user)
    with time_machine.travel(NOW, tick=False):
        cancelled = desk.post(f"/api/v1/appointments/{course[2].pk}/cancel/", {"reason": "Flu"}, format="json")
    assert cancelled.status_code == 200, cancelled.content
    outcome = cancelled.json()["course_outcome"]
    plan.refresh_from_db()
    proposal = induction_reflow_propose(plan=plan, missed=Appointment.objects.get(pk=course[2].pk), now=NOW)
    assert proposal is not None and proposal.slots, proposal
    offered = proposal.slots[0]
    assert (outcome["replacement_chair"], outcome["replacement_nurse"]) == (offered.chair_id, offered.nurse_id)
    assert dt.datetime.fromisoformat(outcome["replacement_starts_at"]) == offered.start

    with time_machine.travel(NOW, tick=False):
        booked = desk.post(
            "/api/v1/appointments/",
            {
                "patient": plan.patient_id,
                "site": clinic.site.pk,
                "plan": plan.pk,
                "phase": "induction",
                "starts_at": outcome["replacement_starts_at"],
                "chair": outcome["replacement_chair"],
                "nurse": outcome["replacement_nurse"],
            },
            format="json",
        )
    assert booked.status_code == 201, booked.content
    made = Appointment.objects.get(pk=booked.json()["id"])
    assert (made.starts_at, made.chair_id, made.nurse_id) == (offered.start, offered.chair_id, offered.nurse_id)
    plan.refresh_from_db()
    assert induction_short_by(plan) == 0
