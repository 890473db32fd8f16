"""Issue 17: every proposal says why its times were chosen. The engine keeps a why's time and chair
(`Why.at`) apart from its reasons (`Why.because`), so a message that names the time itself quotes
the reasons alone, with no string trimming: a lost session's offered replacement, and the
replacements a rebooking cancel booked (its words and the API's `rebooked` items)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from rest_framework.test import APIClient

from scheduling import services
from scheduling.models import Appointment
from scheduling.services.courses import induction_reflow_propose
from tests.scheduling.conftest import NOW, START, make_clinic

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("policy", ["earliest", "level"])
def test_each_proposed_why_is_its_time_and_chair_then_its_reasons(policy):
    clinic = make_clinic(chairs=2, nurses=1, placement_policy=policy)
    proposal = services.course_propose(plan=clinic.plan(), start_date=START, now=NOW)
    for session in proposal.sessions:
        chair = clinic.site.chairs.get(pk=session.chair_id).name
        at = f"{session.starts_at.astimezone(clinic.site.zone):%a %-d %b %Y %H:%M}, {chair}"
        assert session.why.startswith(f"{at}: "), session.why
        because = session.why.removeprefix(f"{at}: ")
        assert because and not because.startswith(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", chair))


@pytest.mark.parametrize("policy", ["earliest", "level"])
def test_an_offered_replacement_names_its_time_and_chair_once_and_its_reasons_apart(policy):
    clinic = make_clinic(chairs=2, nurses=1, placement_policy=policy)
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=None, now=NOW, start_date=START)
    lost = course[2]
    outcome = services.appointment_cancel(appointment=lost, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    plan.refresh_from_db()
    proposal = induction_reflow_propose(plan=plan, missed=Appointment.objects.get(pk=lost.pk), now=NOW)
    assert proposal is not None and proposal.whys, proposal
    why = proposal.whys[0]
    # The reasons alone: not "Chair 2: the earliest free time", as trimming the time off left it.
    assert outcome.replacement_why == why.because
    chair = clinic.site.chairs.get(pk=proposal.slots[0].chair_id).name
    assert not outcome.replacement_why.startswith(chair)
    assert f"the first replacement that fits is {why.at}, not booked yet (why this time: {why.because})" in (
        outcome.course
    )
    assert why.at.endswith(f", {chair}")


@pytest.mark.parametrize("policy", ["earliest", "level"])
def test_a_rebooking_cancel_says_why_each_replacement_took_its_time(policy):
    clinic = make_clinic(chairs=2, nurses=1, placement_policy=policy)
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=None, now=NOW, start_date=START)
    lost = course[2]
    plan.refresh_from_db()
    expected = induction_reflow_propose(plan=plan, missed=Appointment.objects.get(pk=lost.pk), now=NOW)

    outcome = services.appointment_cancel(
        appointment=lost, actor=clinic.front_desk.user, reason="Flu", now=NOW, rebook=True
    )

    assert expected is not None and outcome.rebooked
    assert [a.starts_at for a in outcome.rebooked] == [slot.start for slot in expected.slots]
    assert outcome.rebooked_whys == [why.because for why in expected.whys]
    for why in expected.whys:
        assert f"{why.at} ({why.because})" in outcome.course, outcome.course
    items = outcome.as_dict()["rebooked"]
    assert [item["why"] for item in items] == outcome.rebooked_whys


def test_the_apis_rebooked_replacements_carry_their_why():
    clinic = make_clinic(chairs=2, nurses=1, placement_policy="level")
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=None, now=NOW, start_date=START)
    client = APIClient()
    client.force_authenticate(clinic.front_desk.user)
    with time_machine.travel(NOW, tick=False):
        cancelled = client.post(
            f"/api/v1/appointments/{course[3].pk}/cancel/", {"reason": "Flu", "rebook": True}, format="json"
        )
    assert cancelled.status_code == 200, cancelled.content
    outcome = cancelled.json()["course_outcome"]
    assert outcome["rebooked"], outcome
    for item in outcome["rebooked"]:
        assert item["why"] and item["why"] in outcome["summary"], (item, outcome["summary"])
        starts = dt.datetime.fromisoformat(item["starts_at"])
        assert f"{starts.astimezone(clinic.site.zone):%a %-d %b %Y %H:%M}, Chair" in outcome["summary"]
