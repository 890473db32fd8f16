"""Once a clinician clears a short course's flag (the patient stops at five sessions, say), the
desk's work lists (the day board, the to-move list) stop marking the plan, while the chart still
counts what the induction is missing, as a fact (README: "they follow the flag")."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from scheduling.services.plans import plan_clear_attention
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 3, 2)  # the first day of both courses (tests/web/conftest.py)


def _cleared(flagged) -> None:
    plan_clear_attention(plan=flagged.plan_a, reason="Stops at five sessions", actor=flagged.prescriber.user)


def test_the_board_marks_a_short_course_only_while_it_is_flagged(client, flagged):
    login(client, flagged.desk.user)
    board = reverse("web:board")
    assert 'data-testid="course-short"' in client.get(board, {"day": MONDAY.isoformat()}).content.decode()
    _cleared(flagged)
    assert 'data-testid="course-short"' not in client.get(board, {"day": MONDAY.isoformat()}).content.decode()


def test_the_chart_still_counts_the_missing_session_after_the_flag_is_cleared(client, flagged):
    _cleared(flagged)
    login(client, flagged.desk.user)
    page = client.get(reverse("web:patient", args=[flagged.patient_a.pk])).content.decode()
    notice = page.split('data-testid="course-short"')[1].split("</div>")[0]
    assert "missing 1 session " in notice
