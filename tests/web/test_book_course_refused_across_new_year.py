"""The desk's "Book a course" page when a course is refused around the winter break (the clinic of
tests/scheduling/test_course_refused_across_new_year.py, on Sun 6 Dec 2026): a day of 2027 is shown
with its year and one of 2026 without, the nearest courses that fit are each a different course named
by the day it starts, and a course that cannot end by the plan's review date names the date."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils.html import strip_tags

from tests.scheduling.test_course_refused_across_new_year import NOW, REVIEW, plan_for, winter_clinic
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def winter(db, time_machine):
    time_machine.move_to(NOW, tick=False)
    return winter_clinic()


def _refused(client, clinic, plan, start: dt.date):
    login(client, clinic.front_desk.user)
    response = client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": start.isoformat()})
    assert response.status_code == 409
    return response


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(strip_tags(html)))


def _alternatives_section(response) -> str:
    return response.content.decode().split('id="alt-h"')[1].split("</section>")[0]


def test_the_refusal_shows_next_years_days_with_their_year_and_this_years_without(client, winter):
    plan = plan_for(winter, dt.date(2026, 12, 28))
    response = _refused(client, winter, plan, dt.date(2026, 12, 28))
    text = _text(response.content.decode())
    assert "No first session could be placed in the 7 days from Mon 28 Dec." in text
    assert "Mon 28 Dec: the site is closed (Winter break)" in text
    assert "Fri 1 Jan 2027: the site is closed (Winter break)" in text
    assert "Dec 2026" not in text


def test_the_nearest_courses_are_each_a_different_course_named_by_the_day_it_starts(client, winter):
    """Later starts on Tue 29, Wed 30 and Thu 31 Dec all come to the course starting Mon 4 Jan 2027: the
    page offers it once, with its year, and two other courses after it; each "Propose this" proposes
    from a different day."""
    plan = plan_for(winter, dt.date(2026, 12, 28))
    response = _refused(client, winter, plan, dt.date(2026, 12, 28))
    section = _alternatives_section(response)
    offers = [_text(item) for item in section.split("<li>")[1:]]
    name = winter.site.name
    assert [offer.split(", 08:00")[0].strip() + ", 08:00" for offer in offers] == [
        f"Start Mon 4 Jan 2027 at {name} — first session Mon 4 Jan 2027, 08:00",
        f"Start Tue 5 Jan 2027 at {name} — first session Tue 5 Jan 2027, 08:00",
        f"Start Wed 6 Jan 2027 at {name} — first session Wed 6 Jan 2027, 08:00",
    ]
    starts = re.findall(r'name="start_date" value="([0-9-]+)"', section)
    assert starts == ["2027-01-04", "2027-01-05", "2027-01-06"]
    assert "Dec" not in _text(section)


def test_a_public_holiday_of_next_year_among_an_alternatives_days_is_shown_with_its_year(client, winter):
    """The site is in the US: Mon 18 Jan 2027 is Martin Luther King Jr. Day, a session day of the
    course that starts on Tue 5 Jan."""
    plan = plan_for(winter, dt.date(2026, 12, 28))
    response = _refused(client, winter, plan, dt.date(2026, 12, 28))
    section = _text(_alternatives_section(response))
    assert "Mon 18 Jan 2027, Martin Luther King" in section, section
    assert "Mon 18 Jan 2027 is Martin Luther King" in section


def test_the_page_names_the_review_date_when_the_course_runs_past_it(client, winter):
    plan = plan_for(winter, dt.date(2027, 6, 10))
    response = _refused(client, winter, plan, dt.date(2027, 6, 10))
    text = _text(response.content.decode())
    assert f"The course stops at the plan's review date, {REVIEW:%a %-d %b %Y}" in text
    assert "Mon 21 Jun 2027: after the plan's review date (Sat 19 Jun 2027)" in text
    assert "no nurse is on shift" not in text
