"""The API's propose-course refused around the winter break (the clinic of
tests/scheduling/test_course_refused_across_new_year.py, on Sun 6 Dec 2026): its 409 offers each
alternative course once, named by the day it starts with the year when it is 2027, says its days with
their year, and names the plan's review date when the course would run past it."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.api.conftest import client_of
from tests.scheduling.test_course_refused_across_new_year import NOW, plan_for, winter_clinic

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def winter(db, time_machine):
    time_machine.move_to(NOW, tick=False)
    return winter_clinic()


def _refused(clinic, plan, start: str) -> dict:
    response = client_of(clinic.front_desk).post(
        f"{V1}/plans/{plan.pk}/propose-course/", {"start_date": start}, format="json"
    )
    assert response.status_code == 409, response.content[:500]
    error = response.json()["error"]
    assert error["code"] == "course_does_not_fit"
    return error


def test_a_refused_course_offers_each_alternative_once_with_next_years_dates_written_with_the_year(winter):
    plan = plan_for(winter, dt.date(2026, 12, 28))
    error = _refused(winter, plan, "2026-12-28")
    alternatives = error["details"]["alternatives"]
    name = winter.site.name
    assert [alternative["label"] for alternative in alternatives] == [
        f"Start Mon 4 Jan 2027 at {name}",
        f"Start Tue 5 Jan 2027 at {name}",
        f"Start Wed 6 Jan 2027 at {name}",
    ]
    assert len({alternative["first_session"] for alternative in alternatives}) == 3
    assert "Fri 1 Jan 2027: the site is closed (Winter break)" in error["details"]["days"]
    assert "Mon 28 Dec: the site is closed (Winter break)" in error["details"]["days"]


def test_a_course_running_past_the_review_date_is_refused_naming_the_date(winter):
    plan = plan_for(winter, dt.date(2027, 6, 10))
    error = _refused(winter, plan, "2027-06-10")
    assert "The course stops at the plan's review date, Sat 19 Jun 2027" in error["message"]
    assert "Mon 21 Jun 2027: after the plan's review date (Sat 19 Jun 2027)" in error["details"]["days"]
