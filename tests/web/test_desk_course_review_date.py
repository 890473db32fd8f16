"""A course that cannot end by the plan's review date: the desk's page and the service name the date,
and offer the nearest courses that do end by it."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling import services
from scheduling.engine import Preferences
from scheduling.errors import CourseDoesNotFit
from tests.scheduling.conftest import NOW, START, clinic  # noqa: F401 - the fixture
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


def test_desk_page_names_the_review_date_when_the_course_cannot_end_by_it(clinic, client, frozen_now):  # noqa: F811
    plan = clinic.plan(review_date=START + dt.timedelta(days=8))
    login(client, clinic.front_desk.user)
    response = client.post(f"/plans/{plan.pk}/book/", {"start_date": START.isoformat()})
    assert response.status_code == 409
    body = response.content.decode()
    assert "review date" in body, body[body.find("alert") - 200 : body.find("alert") + 800]


def test_service_course_propose_names_the_review_date(clinic, frozen_now):  # noqa: F811
    plan = clinic.plan(review_date=START + dt.timedelta(days=8))
    with pytest.raises(CourseDoesNotFit) as refused:
        services.course_propose(plan=plan, start_date=START, now=NOW, actor=clinic.front_desk.user)
    assert "review date" in refused.value.message, (refused.value.message, refused.value.details)


def test_a_course_that_fits_by_the_review_date_on_any_day_is_offered_as_an_alternative(clinic, frozen_now):  # noqa: F811
    """Preferred Mon/Wed: six sessions run to Wed 18 Mar, past a review date of Sat 14 Mar. On any
    open day the course ends by Fri 13 Mar: the desk should be offered that alternative, as it is
    when a course does not fit for any other reason."""
    plan = clinic.plan(review_date=dt.date(2026, 3, 14))
    plan.preferred_weekdays = [0, 2]
    plan.save(update_fields=["preferred_weekdays"])
    # Such a course exists: proposed with any open day, it ends by the review date.
    relaxed = services.course_propose(
        plan=plan,
        start_date=START,
        now=NOW,
        actor=clinic.front_desk.user,
        prefs=Preferences(weekdays=frozenset(range(7))),
    )
    assert relaxed.sessions[-1].starts_at.date() <= dt.date(2026, 3, 14)
    with pytest.raises(CourseDoesNotFit) as refused:
        services.course_propose(plan=plan, start_date=START, now=NOW, actor=clinic.front_desk.user)
    alternatives = refused.value.details.get("alternatives", [])
    assert alternatives, (refused.value.message, refused.value.details)
    last = max(s["starts_at"] for s in alternatives[0]["sessions"])
    assert last < "2026-03-15"
