"""The portal questionnaire's `?appointment=` link after the session took place."""

from __future__ import annotations

import pytest
import time_machine
from django.http import HttpRequest
from django.urls import reverse

from measures.models import QuestionnaireResponse
from measures.scoring import Instrument
from measures.selectors import outcome_summary
from tests.factories import PASSWORD
from tests.measures.conftest import LATER

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.measures.urls")]


def test_an_old_reminder_link_weeks_after_the_first_session_does_not_become_the_baseline(client, world):
    """A questionnaire filled in from an old reminder's link (`?appointment=` naming the first
    session, seven weeks into the course) is saved as of today, not as given for that session: it
    cannot become the course's pre-treatment baseline."""
    first = world.sessions_a[0]  # Monday 2 March 2026
    with time_machine.travel(LATER, tick=False):  # 20 April 2026
        assert client.login(request=HttpRequest(), username=world.user("patient_a").username, password=PASSWORD)
        url = reverse("measures:questionnaire", args=["phq9"]) + f"?appointment={first.pk}"
        client.post(url, {**{f"item_{n}": "2" for n in range(1, 10)}, "appointment": first.pk})
    late = QuestionnaireResponse.objects.get()
    assert late.completed_at == LATER
    outcome = outcome_summary(patient=world.patient_a, now=LATER).outcomes[Instrument.PHQ9]
    assert outcome.baseline is None or outcome.baseline.completed_at <= first.starts_at, (
        f"a score given seven weeks into the course is the baseline: {outcome.baseline}"
    )
