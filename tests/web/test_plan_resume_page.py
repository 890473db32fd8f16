"""The plan page's answer to resuming: when nothing is booked, it says why; a resume into
maintenance is the prescriber's. And the review date is the prescriber's to change."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from scheduling import services
from scheduling.models import Phase, PlanStatus
from tests.clinical_helpers import complete_session
from tests.scheduling.conftest import induction_completed_while_paused
from tests.web.conftest import login, make_patient

pytestmark = pytest.mark.django_db

# What the chart's plan form says to a nurse instead of offering a resume into maintenance.
RESUME_IS_PRESCRIBERS = (
    "Resuming this plan would move it into maintenance (its induction was completed during the pause): "
    "that is the prescriber's decision."
)


def _adjust_section(page: str) -> str:
    """The chart's "Adjust the plan" section."""
    start = page.index('id="adjust"')
    return page[start : page.index("</section>", start)]


def test_resuming_a_maintenance_plan_after_its_review_date_says_why_no_session_was_booked(client, web):
    for session in web.sessions_a:
        complete_session(session)
    after = web.sessions_a[-1].ends_at + dt.timedelta(hours=1)
    services.plan_pause(plan=web.plan_a, reason="Unwell", actor=web.prescriber.user, now=after)
    web.plan_a.refresh_from_db()
    review = web.plan_a.review_date
    back = review + dt.timedelta(days=7)

    with time_machine.travel(after + dt.timedelta(days=1), tick=False):
        login(client, web.prescriber.user)
        response = client.post(
            reverse("web:plan-adjust", args=[web.plan_a.pk]),
            {"action": "resume", "from_date": back.isoformat(), "reason": "Recovered", "version": web.plan_a.version},
            follow=True,
        )
    page = response.content.decode()
    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.ACTIVE
    assert "no session was booked" in page, page
    assert f"review date ({review:%a %-d %b %Y}) has passed" in page, "the page does not say why nothing was booked"


def test_a_prescriber_sets_a_new_review_date_from_the_chart_and_a_nurse_is_not_offered_it(client, web):
    """The course stops at its review date, and the pages tell the clinician to set a new one: the
    chart's plan form is where a prescriber does it (the service's rules and history)."""
    for session in web.sessions_a:
        complete_session(session)
    after = web.sessions_a[-1].ends_at + dt.timedelta(hours=1)
    web.plan_a.refresh_from_db()
    later = web.plan_a.review_date + dt.timedelta(days=90)

    with time_machine.travel(after, tick=False):
        login(client, web.nurse.user)
        chart = client.get(reverse("web:patient", args=[web.plan_a.patient_id])).content.decode()
        assert "Change the review date" not in chart
        refused = client.post(
            reverse("web:plan-adjust", args=[web.plan_a.pk]),
            {"action": "review", "review_date": later.isoformat(), "reason": "x", "version": web.plan_a.version},
        )
        # Hand-posted anyway, it is refused as the API refuses it: the prescriber's decision (403).
        assert refused.status_code == 403
        assert "Changing the review date is a prescriber&#x27;s decision." in refused.content.decode()
        client.logout()

        login(client, web.prescriber.user)
        chart = client.get(reverse("web:patient", args=[web.plan_a.patient_id])).content.decode()
        assert "Change the review date" in chart and 'name="review_date"' in chart
        response = client.post(
            reverse("web:plan-adjust", args=[web.plan_a.pk]),
            {
                "action": "review",
                "review_date": later.isoformat(),
                "reason": "Reviewed: continuing maintenance",
                "version": web.plan_a.version,
            },
            follow=True,
        )
    web.plan_a.refresh_from_db()
    assert web.plan_a.review_date == later
    assert f"The review date is now {later:%a %-d %b %Y}." in response.content.decode()
    assert web.plan_a.history.filter(history_change_reason__endswith="Reviewed: continuing maintenance").exists()


def test_a_nurse_resuming_a_plan_into_maintenance_is_refused_in_words_and_a_prescriber_resumes_it(client, web):
    """Every induction session was held during the pause: the resume would move the plan into
    maintenance, the prescriber's decision, so the page refuses the nurse's as the service and the
    API do, and says why."""
    last = induction_completed_while_paused(web.plan_a, web.sessions_a, pauser=web.nurse.user)
    back = last.starts_at.astimezone(web.clinic.site.zone).date() + dt.timedelta(days=30)
    url = reverse("web:plan-adjust", args=[web.plan_a.pk])

    with time_machine.travel(last.ends_at + dt.timedelta(days=1), tick=False):
        login(client, web.nurse.user)
        refused = client.post(
            url, {"action": "resume", "from_date": back.isoformat(), "reason": "Back", "version": web.plan_a.version}
        )
        assert refused.status_code == 403
        page = refused.content.decode()
        assert "Resuming this plan into maintenance (its induction was completed during the pause)" in page, page
        web.plan_a.refresh_from_db()
        assert web.plan_a.status == PlanStatus.PAUSED and web.plan_a.phase == Phase.INDUCTION
        client.logout()

        login(client, web.prescriber.user)
        response = client.post(
            url,
            {"action": "resume", "from_date": back.isoformat(), "reason": "Back", "version": web.plan_a.version},
            follow=True,
        )
    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.ACTIVE and web.plan_a.phase == Phase.MAINTENANCE
    assert "The plan is resumed" in response.content.decode()


def test_the_chart_suggests_a_resume_date_that_maintenance_spacing_accepts(client, web):
    """The induction was all held during the pause, so the resume enters maintenance and is spaced as
    maintenance from the last session: the form's suggested date is the plan's interval after it
    (not the induction's two days, which the service refuses), and resuming from it is accepted."""
    last = induction_completed_while_paused(web.plan_a, web.sessions_a, pauser=web.nurse.user)
    last_day = last.starts_at.astimezone(web.clinic.site.zone).date()
    expected = last_day + dt.timedelta(days=web.plan_a.maintenance_interval_days)

    with time_machine.travel(last.ends_at + dt.timedelta(days=1), tick=False):
        login(client, web.prescriber.user)
        chart = client.get(reverse("web:patient", args=[web.plan_a.patient_id])).content.decode()
        suggested = re.search(r'<input type="date" name="from_date" value="([0-9-]+)"', chart)
        assert suggested is not None, "the resume form has no suggested date"
        assert suggested.group(1) == expected.isoformat()
        response = client.post(
            reverse("web:plan-adjust", args=[web.plan_a.pk]),
            {"action": "resume", "from_date": suggested.group(1), "reason": "Back", "version": web.plan_a.version},
        )
    assert response.status_code == 302, response.content.decode()
    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.ACTIVE and web.plan_a.phase == Phase.MAINTENANCE


def test_a_nurse_is_not_offered_a_resume_into_maintenance_and_is_told_whose_decision_it_is(client, web):
    """The service refuses a nurse's resume into maintenance, so the chart does not offer it: it says
    instead that the prescriber decides. The prescriber is offered it."""
    last = induction_completed_while_paused(web.plan_a, web.sessions_a, pauser=web.nurse.user)

    with time_machine.travel(last.ends_at + dt.timedelta(days=1), tick=False):
        login(client, web.nurse.user)
        nurse_sees = _adjust_section(client.get(reverse("web:patient", args=[web.plan_a.patient_id])).content.decode())
        client.logout()
        login(client, web.prescriber.user)
        prescriber_sees = _adjust_section(
            client.get(reverse("web:patient", args=[web.plan_a.patient_id])).content.decode()
        )

    assert "Resume the plan" not in nurse_sees and 'name="from_date"' not in nurse_sees, nurse_sees
    assert RESUME_IS_PRESCRIBERS in nurse_sees, nurse_sees
    assert "it can no longer be changed" not in nurse_sees, nurse_sees
    assert "Resume the plan" in prescriber_sees and 'name="from_date"' in prescriber_sees
    assert RESUME_IS_PRESCRIBERS not in prescriber_sees


def test_a_nurse_is_offered_the_resume_of_a_plan_that_stays_in_its_induction(client, web):
    complete_session(web.sessions_a[0])
    after = web.sessions_a[0].ends_at + dt.timedelta(hours=1)
    services.plan_pause(plan=web.plan_a, reason="Unwell", actor=web.nurse.user, now=after)

    with time_machine.travel(after + dt.timedelta(days=1), tick=False):
        login(client, web.nurse.user)
        nurse_sees = _adjust_section(client.get(reverse("web:patient", args=[web.plan_a.patient_id])).content.decode())

    assert "Resume the plan" in nurse_sees and 'name="from_date"' in nurse_sees, nurse_sees
    assert RESUME_IS_PRESCRIBERS not in nurse_sees


def test_a_nurse_reading_a_draft_plan_is_told_its_course_is_not_booked_yet(client, web):
    """A plan whose course is not booked offers a nurse no change: the chart says why (it said the
    plan "can no longer be changed", as of a finished one)."""
    patient = make_patient(web.clinic, "patient_c", "Cora", "Clark")
    web.clinic.plan(patient=patient)

    login(client, web.nurse.user)
    nurse_sees = _adjust_section(client.get(reverse("web:patient", args=[patient.pk])).content.decode())

    assert "not booked yet" in nurse_sees, nurse_sees
    assert "it can no longer be changed" not in nurse_sees, nurse_sees
