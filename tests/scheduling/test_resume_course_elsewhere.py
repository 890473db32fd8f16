"""Resuming a paused induction whose course was booked at another site than the plan's: the rest
of the course is proposed where the course is (as its re-flows and make-ups are, at the site of the
round's sessions, `courses.induction_site`), under that site's placement policy, not at the plan's
site under the plan's site's policy. Someone who does not work at the course's site is refused, and
nothing is written."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from rest_framework.test import APIClient

from clinic.models import Role
from clinic.permissions import OutsideYourSites
from scheduling import services
from scheduling.models import AppointmentStatus, Phase, PlanStatus, TreatmentPlan
from scheduling.selectors import plan_preferences
from scheduling.services.plans import usual_preferences
from tests.clinical_helpers import complete_session
from tests.factories import ChairFactory, SiteFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import NOW, START, add_shifts, make_clinic

RESUME_ON = START + dt.timedelta(days=14)


def _paused_with_course_uptown():
    """A plan of the home site (policy earliest) whose course was booked at Uptown (policy level) by a
    prescriber of both sites; two sessions given, then paused. The clinic, Uptown, the prescriber, the
    plan and when it was paused."""
    home = make_clinic(chairs=2, nurses=1, placement_policy="earliest")
    uptown = SiteFactory(name="Uptown", placement_policy="level")
    for index in range(2):
        ChairFactory(site=uptown, name=f"U{index + 1}")
    add_shifts(StaffFactory(role=Role.NURSE, sites=[uptown]), uptown, START - dt.timedelta(days=7), 240)
    both = StaffFactory(role=Role.PRESCRIBER, sites=[home.site, uptown], user=UserFactory(username="dr_both"))
    plan = home.plan()
    # The desk takes the course at Uptown (the nearest course there, say): the plan stays at home.
    proposal = services.course_propose(plan=plan, start_date=START, now=NOW, site=uptown, actor=both.user)
    course = services.course_book(plan=plan, actor=both.user, now=NOW, sessions=proposal.sessions)
    assert {session.site_id for session in course} == {uptown.pk}
    for session in course[:2]:
        complete_session(session)
    paused_at = course[1].ends_at + dt.timedelta(hours=1)
    services.plan_pause(plan=plan, reason="Flu", actor=both.user, now=paused_at)
    return home, uptown, both, plan, paused_at


def _sessions(plan: TreatmentPlan) -> list[tuple]:
    return list(plan.appointments.order_by("pk").values_list("pk", "status", "starts_at", "site_id"))


@pytest.mark.django_db
def test_the_rest_of_a_resumed_induction_booked_at_another_site_stays_at_that_site_and_its_policy():
    _home, uptown, both, plan, paused_at = _paused_with_course_uptown()
    resumed = services.plan_resume(
        plan=plan, resume_date=RESUME_ON, reason="Recovered", actor=both.user, now=paused_at + dt.timedelta(days=1)
    )
    assert resumed and all(session.phase == Phase.INDUCTION for session in resumed)
    assert all(session.status == AppointmentStatus.BOOKED for session in resumed)
    sites = sorted({session.site.name for session in resumed})
    assert sites == [uptown.name], f"the rest of the Uptown course was booked at {sites}"
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE


@pytest.mark.django_db
def test_the_rest_follows_the_course_sites_policy_not_the_plans():
    home, uptown, both, plan, paused_at = _paused_with_course_uptown()
    now = paused_at + dt.timedelta(days=1)
    plan.refresh_from_db()
    # What Uptown's level policy proposes for the rest from the resume date, on the patient's usual
    # days and time there (the released sessions free again), read before the resume books it.
    expected = services.course_propose(
        plan=plan,
        start_date=RESUME_ON,
        now=now,
        site=uptown,
        sessions_needed=4,
        prefs=usual_preferences(plan, plan_preferences(plan), site=uptown),
        actor=both.user,
    )
    assert all(session.why for session in expected.sessions)
    resumed = services.plan_resume(plan=plan, resume_date=RESUME_ON, reason="Recovered", actor=both.user, now=now)
    assert [(s.starts_at, s.chair_id, s.nurse_id) for s in resumed] == [
        (s.starts_at, s.chair_id, s.nurse_id) for s in expected.sessions
    ]
    assert home.site.placement_policy != uptown.placement_policy


@pytest.mark.django_db
def test_a_nurse_of_the_plans_site_only_is_refused_and_nothing_is_written():
    home, _uptown, _both, plan, paused_at = _paused_with_course_uptown()
    nurse = StaffFactory(role=Role.NURSE, sites=[home.site], user=UserFactory(username="nurse_home"))
    plan.refresh_from_db()
    version, before = plan.version, _sessions(plan)
    with pytest.raises(OutsideYourSites) as refused:
        services.plan_resume(
            plan=plan, resume_date=RESUME_ON, reason="Recovered", actor=nurse.user, now=paused_at + dt.timedelta(days=1)
        )
    message = refused.value.message
    assert "induction course is at Uptown" in message, message
    assert "someone who works at Uptown resumes the plan" in message, message
    assert "The plan stays paused." in message, message
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAUSED and plan.paused_at is not None
    assert plan.version == version
    assert _sessions(plan) == before


@pytest.mark.django_db
def test_the_apis_resume_by_a_nurse_of_the_plans_site_only_is_refused_in_the_same_words():
    home, _uptown, _both, plan, paused_at = _paused_with_course_uptown()
    nurse = StaffFactory(role=Role.NURSE, sites=[home.site], user=UserFactory(username="nurse_home"))
    plan.refresh_from_db()
    version, before = plan.version, _sessions(plan)
    client = APIClient()
    client.force_authenticate(nurse.user)
    with time_machine.travel(paused_at + dt.timedelta(days=1), tick=False):
        response = client.post(
            f"/api/v1/plans/{plan.pk}/resume/",
            {"reason": "Recovered", "resume_date": RESUME_ON.isoformat(), "version": version},
            format="json",
        )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "outside_your_sites"
    assert "someone who works at Uptown resumes the plan" in error["message"], error
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAUSED and plan.version == version
    assert _sessions(plan) == before


def _chart(client, user, plan, when: dt.datetime):
    from django.urls import reverse

    from tests.web.conftest import login

    login(client, user)
    with time_machine.travel(when, tick=False):
        response = client.get(reverse("web:patient", args=[plan.patient_id]))
    assert response.status_code == 200
    return response


@pytest.mark.django_db
def test_the_chart_offers_no_resume_to_a_nurse_the_service_would_refuse_and_says_whose_it_is(client):
    home, _uptown, both, plan, paused_at = _paused_with_course_uptown()
    nurse = StaffFactory(role=Role.NURSE, sites=[home.site], user=UserFactory(username="nurse_home"))
    page = _chart(client, nurse.user, plan, paused_at + dt.timedelta(days=1))
    form = page.context["adjust_form"]
    offered = [value for value, _ in form.fields["action"].choices]
    assert "resume" not in offered, offered
    said = page.content.decode().split('data-testid="resume-elsewhere">')[1].split("</p>")[0]
    assert "induction course is at Uptown" in said and "someone who works at Uptown resumes the plan" in said
    # The same words the service refuses with (less its "The plan stays paused.").
    with pytest.raises(OutsideYourSites) as refused:
        services.plan_resume(
            plan=plan, resume_date=RESUME_ON, reason="Recovered", actor=nurse.user, now=paused_at + dt.timedelta(days=1)
        )
    assert refused.value.message.startswith(said.replace("&#x27;", "'")), (refused.value.message, said)

    # Someone who works at Uptown is offered it, and not told otherwise.
    client.logout()
    page = _chart(client, both.user, plan, paused_at + dt.timedelta(days=1))
    assert "resume" in [value for value, _ in page.context["adjust_form"].fields["action"].choices]
    assert 'data-testid="resume-elsewhere"' not in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.NURSE, Role.PRESCRIBER])
def test_a_refused_resume_draws_the_chart_again_without_offering_resume(client, role):
    from django.urls import reverse

    home, _uptown, _both, plan, paused_at = _paused_with_course_uptown()
    clinician = StaffFactory(role=role, sites=[home.site], user=UserFactory(username="home_only"))
    page = _chart(client, clinician.user, plan, paused_at + dt.timedelta(days=1))
    plan.refresh_from_db()
    posted = {
        "action": "resume",
        "reason": "Recovered",
        "from_date": RESUME_ON.isoformat(),
        "version": plan.version,
    }
    with time_machine.travel(paused_at + dt.timedelta(days=1), tick=False):
        refused = client.post(reverse("web:plan-adjust", args=[plan.pk]), posted)
    assert refused.status_code == 400, refused.content
    assert "someone who works at Uptown resumes the plan" in refused.content.decode().replace("&#x27;", "'")
    drawn, again = page.context["adjust_form"], refused.context["adjust_form"]
    offered = [value for value, _ in again.fields["action"].choices]
    # What the chart offered before the post: the nurse nothing (no form is drawn), the prescriber
    # the plan's other changes; and only those changes' fields (no "Resume from" without a resume).
    assert "resume" not in offered and offered == [v for v, _ in drawn.fields["action"].choices]
    assert list(again.fields) == list(drawn.fields)
    if role == Role.NURSE:
        assert 'name="action"' not in refused.content.decode()
    else:
        assert offered and "Resume from" not in refused.content.decode()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAUSED
