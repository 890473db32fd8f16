"""A paused plan takes no session until a clinician resumes it. The chart and the booking page say
that, not "no open plan: a prescriber creates one" (which the new-plan page then refuses: the
paused plan is still open)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scheduling.services import plan_pause
from tests.scheduling.conftest import NOW
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def paused(web):
    plan_pause(plan=web.plan_a, reason="Travelling for a month", actor=web.prescriber.user, now=NOW)
    return web


@pytest.mark.parametrize("role", ["desk", "nurse", "prescriber"])
def test_the_chart_says_the_plan_is_paused_not_that_there_is_none(client, paused, role):
    login(client, getattr(paused, role).user)
    page = client.get(reverse("web:patient", args=[paused.patient_a.pk])).content.decode()
    note = page.split('data-testid="no-plan">')[1].split("</p>")[0]
    assert "This plan is paused" in note
    assert "No open plan" not in note and "creates" not in note
    assert ("you resume it" in note) == (role != "desk")


def test_the_booking_page_says_the_plan_is_paused(client, paused):
    login(client, paused.desk.user)
    page = client.get(reverse("web:book-session", args=[paused.patient_a.pk])).content.decode()
    assert 'data-testid="plan-paused"' in page
    assert "is paused: no session is booked on it until a clinician resumes it" in page
    assert "has no open plan" not in page


def test_a_patient_without_a_plan_still_reads_no_open_plan(client, web):
    from scheduling.services import plan_end

    plan_end(plan=web.plan_a, reason="Relief lasting", actor=web.prescriber.user, now=NOW)
    login(client, web.desk.user)
    page = client.get(reverse("web:book-session", args=[web.patient_a.pk])).content.decode()
    assert "has no open plan at your sites" in page and 'data-testid="plan-paused"' not in page
    chart = client.get(reverse("web:patient", args=[web.patient_a.pk])).content.decode()
    assert "No open plan to book on" in chart
