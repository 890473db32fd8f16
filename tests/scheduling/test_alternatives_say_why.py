"""Issue 17: every proposal says in words why its times were chosen. A refused course offers the
nearest courses (`CourseDoesNotFit.details["alternatives"]`, the API's 409 body), placed under their
site's policy, each session with why, in the same shape as a proposal's sessions."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from rest_framework.test import APIClient

from clinic.models import Closure
from scheduling import services
from scheduling.errors import CourseDoesNotFit
from scheduling.services.courses import ProposedSession
from tests.scheduling.conftest import NOW, START, make_clinic


def _closed_for_two_weeks(policy: str):
    clinic = make_clinic(chairs=2, nurses=1, placement_policy=policy)
    zone = clinic.site.zone
    # Closed for the second and third week: six sessions cannot fit in 21 days from 2 March.
    Closure.objects.create(
        site=clinic.site,
        reason="Renovation",
        starts_at=dt.datetime(2026, 3, 9, tzinfo=zone),
        ends_at=dt.datetime(2026, 3, 21, tzinfo=zone),
    )
    return clinic


@pytest.mark.parametrize("policy", ["earliest", "level"])
@pytest.mark.django_db
def test_each_session_of_a_nearest_course_says_why_its_time_was_chosen(policy):
    clinic = _closed_for_two_weeks(policy)
    with pytest.raises(CourseDoesNotFit) as caught:
        services.course_propose(plan=clinic.plan(), start_date=START, now=NOW)
    alternatives = caught.value.details["alternatives"]
    assert alternatives
    sessions = [session for alternative in alternatives for session in alternative["sessions"]]
    without = [session["starts_at"] for session in sessions if not session.get("why")]
    assert not without, f"{len(without)} of {len(sessions)} sessions of the nearest courses say no why"
    # The why names the session's own time and chair, in the site's zone, as a proposal's does.
    for session in sessions:
        kept = ProposedSession.from_alternative(session)
        assert kept.why == session["why"]
        local = f"{kept.starts_at.astimezone(clinic.site.zone):%a %-d %b %Y %H:%M}"
        assert session["why"].startswith(local), session
        # and `because` gives the reasons alone, as the why ends.
        assert session["because"] and session["why"].endswith(f": {session['because']}"), session


@pytest.mark.django_db
def test_the_apis_409_alternatives_carry_each_sessions_why():
    clinic = _closed_for_two_weeks("level")
    plan = clinic.plan()
    client = APIClient()
    client.force_authenticate(clinic.front_desk.user)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            f"/api/v1/plans/{plan.pk}/propose-course/", {"start_date": START.isoformat()}, format="json"
        )
    assert response.status_code == 409, response.content
    alternatives = response.json()["error"]["details"]["alternatives"]
    assert alternatives
    assert all(session["why"] for alternative in alternatives for session in alternative["sessions"])
