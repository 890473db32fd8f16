"""Questionnaires the patient fills in the portal (web/measures.py: questionnaire)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from measures.models import QuestionnaireResponse
from measures.scoring import Instrument
from measures.selectors import outcome_summary
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def _answers(count: int, value: int) -> dict[str, str]:
    return {f"item_{n}": str(value) for n in range(1, count + 1)}


def test_a_pre_session_questionnaire_sent_after_the_session_does_not_become_the_courses_baseline(client, web):
    """The 24 h reminder's link still opens the day after the first infusion, but the answers are
    saved as of that day, not as given for the first session: a post-infusion score is not shown to
    the clinician as the course's pre-treatment baseline."""
    first = web.sessions_a[0]  # Monday 2 March 2026, 08:00 in New York
    link = reverse("measures:questionnaire", args=["phq9"]) + f"?appointment={first.pk}"
    with time_machine.travel(first.ends_at + dt.timedelta(hours=20), tick=False):
        login(client, web.patient_a.user)
        page = client.get(link)
        assert page.status_code == 200
        sent = client.post(link, {**_answers(9, 1), "appointment": first.pk})
        now = dt.datetime.now(dt.UTC)
    assert sent.status_code == 302
    response = QuestionnaireResponse.objects.get(patient=web.patient_a)
    assert response.completed_at > first.starts_at  # answered after the first infusion

    summary = outcome_summary(patient=web.patient_a, now=now)
    assert summary.outcomes[Instrument.PHQ9].baseline is None, (
        "a score given the day after the first session became the course's pre-treatment baseline"
    )
