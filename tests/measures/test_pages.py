"""The portal questionnaire and the outcome section of the clinician's chart."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.http import HttpRequest
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from measures.models import QuestionnaireResponse
from scheduling.models import Phase, PlanStatus, TreatmentPlan
from tests.factories import PASSWORD
from tests.measures.conftest import LATER, phq9

pytestmark = pytest.mark.urls("tests.measures.urls")
DAY = dt.timedelta(days=1)


def login(client, user) -> None:
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)  # axes needs a request


# --- Portal -------------------------------------------------------------------


def test_phq9_page_shows_the_nine_items_as_accessible_radio_groups(client, world):
    login(client, world.user("patient_a"))
    page = client.get(reverse("measures:questionnaire", args=["phq9"])).content.decode()
    assert page.count("<fieldset") == 9 and page.count("<legend") == 9
    assert "Little interest or pleasure in doing things" in page
    assert "Thoughts that you would be better off dead or of hurting yourself in some way" in page
    assert page.count('type="radio"') == 9 * 4
    # Every radio has its own label.
    for radio_id in re.findall(r'type="radio"[^>]*id="([^"]+)"', page):
        assert f'for="{radio_id}"' in page
    assert 'name="viewport"' in page


def test_patient_submits_gad7_in_the_portal(client, world):
    session = world.sessions_a[-1]
    url = reverse("measures:questionnaire", args=["gad7"]) + f"?appointment={session.pk}"
    answers = {f"item_{n}": "2" for n in range(1, 8)}
    with time_machine.travel(session.starts_at - dt.timedelta(days=1), tick=False):  # before the session
        login(client, world.user("patient_a"))
        response = client.post(url, {**answers, "appointment": session.pk})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    stored = QuestionnaireResponse.objects.get()
    assert (stored.patient, stored.instrument, stored.answers, stored.total_score, stored.severity) == (
        world.patient_a,
        "gad7",
        [2] * 7,
        14,
        "moderate",
    )
    assert (stored.source, stored.entered_by, stored.appointment) == ("portal", world.user("patient_a"), session)


def test_unanswered_items_are_shown_again_with_errors(client, world):
    login(client, world.user("patient_a"))
    response = client.post(reverse("measures:questionnaire", args=["phq9"]), {"item_1": "1", "item_2": "9"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'role="alert"' in page and page.count('class="field__error"') == 8
    assert not QuestionnaireResponse.objects.exists()


def test_another_patients_session_is_404(client, world):
    login(client, world.user("patient_b"))
    url = reverse("measures:questionnaire", args=["pain"]) + f"?appointment={world.sessions_a[0].pk}"
    assert client.get(url).status_code == 404


def test_unknown_questionnaire_is_404_and_staff_cannot_use_the_portal(client, world):
    login(client, world.user("patient_a"))
    assert client.get(reverse("measures:questionnaire", args=["bdi"])).status_code == 404
    client.logout()
    login(client, world.user("nurse"))
    assert client.get(reverse("measures:questionnaire", args=["phq9"])).status_code == 403


# --- Clinician's chart --------------------------------------------------------


def _record_course(world, count: int) -> None:
    first = world.sessions_a[0]
    world.record(world.patient_a, "phq9", phq9(20), first.starts_at - DAY)
    for index in range(count - 1):
        world.record(world.patient_a, "phq9", phq9(max(2, 16 - 3 * index)), first.starts_at + (index + 1) * 3 * DAY)


def test_chart_draws_one_point_per_score_and_a_tick_per_session(client, world):
    _record_course(world, 5)
    world.record(world.patient_a, "pain", [6], LATER - DAY)
    login(client, world.user("prescriber"))
    page = client.get(reverse("web:patient", args=[world.patient_a.pk])).content.decode()
    phq_block = page.split('data-testid="measure-phq9"')[1].split('data-testid="measure-pain"')[0]
    assert phq_block.count('data-testid="measure-chart"') == 1
    assert phq_block.count('data-testid="measure-point"') == 5
    assert "<polyline" in phq_block
    # Scores run from the day before the first session to 12 days after it; sessions up to a day beyond show.
    ticks = phq_block.count('data-testid="session-tick"')
    sessions_inside = sum(1 for s in world.sessions_a if s.starts_at <= world.sessions_a[0].starts_at + 13 * DAY)
    assert ticks == sessions_inside
    assert "Baseline" in phq_block and "20 on" in phq_block
    assert "badge--response" in phq_block and "badge--remission" not in phq_block  # latest 7: 65 % down
    pain_block = page.split('data-testid="measure-pain"')[1]
    assert pain_block.count('data-testid="measure-point"') == 1


def test_chart_shows_the_interval_suggestion_and_self_harm_flag(client, world):
    TreatmentPlan.objects.filter(pk=world.plan_a.pk).update(phase=Phase.MAINTENANCE, status=PlanStatus.ACTIVE)
    first = world.sessions_a[0]
    world.record(world.patient_a, "phq9", phq9(20), first.starts_at - DAY)
    world.record(world.patient_a, "phq9", phq9(5), first.starts_at + 20 * DAY)
    world.record(world.patient_a, "phq9", phq9(15, item9=1), LATER - DAY)
    login(client, world.user("nurse"))
    page = client.get(reverse("web:patient", args=[world.patient_a.pk])).content.decode()
    assert 'data-testid="interval-suggestion"' in page
    assert "from 28 to 21 days" in page
    assert 'data-testid="measure-flag"' in page and "Self-harm thoughts reported" in page
    assert "Response lost" in page


def test_front_desk_chart_has_no_outcome_section(client, world):
    _record_course(world, 3)
    login(client, world.user("front_desk"))
    page = client.get(reverse("web:patient", args=[world.patient_a.pk])).content.decode()
    assert "Outcome measures" not in page and "measure-chart" not in page


def test_chart_query_count_does_not_grow_with_scores(client, world):
    login(client, world.user("prescriber"))
    url = reverse("web:patient", args=[world.patient_a.pk])
    _record_course(world, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    # Twelve more scores (not the same two again: an identical entry is stored once).
    for index in range(12):
        world.record(world.patient_a, "phq9", phq9(10 + index % 5), LATER - (index + 2) * DAY)
    world.record(world.patient_a, "gad7", [1] * 7, LATER - DAY)
    world.record(world.patient_a, "pain", [3], LATER - DAY)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url).content.decode()
    assert page.count('data-testid="measure-point"') == 2 + 12 + 1 + 1
    assert len(many) == len(few)
