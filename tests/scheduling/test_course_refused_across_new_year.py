"""A course refused around the winter break, as the desk and the API are told it: asked on Sun 6 Dec
2026, the site (New York, open Monday to Friday 08:00-18:00) closed from Fri 18 Dec 2026 to Sun 3 Jan
2027. A day of 2027 is said with its year, one of 2026 without; later starts inside the break that all
come to the course starting Mon 4 Jan are one alternative, named by that day; a closed day says it is
closed; and a course whose window runs past the plan's review date names the date."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.models import Closure
from scheduling import services
from scheduling.engine import Preferences
from scheduling.errors import CourseDoesNotFit
from scheduling.models import Phase
from scheduling.services.courses import ProposedSession
from tests.factories import AppointmentFactory
from tests.scheduling.conftest import Clinic, add_shifts, make_clinic

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 12, 6, 17, tzinfo=dt.UTC)  # Sunday 6 December 2026, noon in New York
BREAK_FIRST, BREAK_LAST = dt.date(2026, 12, 18), dt.date(2027, 1, 3)
REVIEW = dt.date(2027, 6, 19)  # a Saturday


def at_new_york(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=NY)


def winter_clinic() -> Clinic:
    """Three chairs, one nurse on shift every day from 1 Dec 2026 to the plans' review date (none after
    it, as in the demo), the site closed for the winter break."""
    clinic = make_clinic(days=0)
    for nurse in clinic.nurses:
        add_shifts(nurse, clinic.site, dt.date(2026, 12, 1), (REVIEW - dt.date(2026, 12, 1)).days + 1)
    Closure.objects.create(
        site=clinic.site,
        reason="Winter break",
        starts_at=at_new_york(BREAK_FIRST, 0),
        ends_at=at_new_york(BREAK_LAST + dt.timedelta(days=1), 0),
    )
    return clinic


@pytest.fixture
def winter(db) -> Clinic:
    return winter_clinic()


def plan_for(clinic: Clinic, start: dt.date):
    """A plan from `start` whose patient comes any day the site is open (as the demo's plans)."""
    return clinic.plan(start_date=start, review_date=REVIEW, preferences=Preferences(weekdays=frozenset(range(7))))


def refused(clinic: Clinic, plan, start: dt.date) -> CourseDoesNotFit:
    with pytest.raises(CourseDoesNotFit) as caught:
        services.course_propose(plan=plan, start_date=start, now=NOW, actor=clinic.front_desk.user)
    return caught.value


def test_a_refusal_across_new_year_says_next_years_days_with_their_year(winter):
    plan = plan_for(winter, dt.date(2026, 12, 28))
    error = refused(winter, plan, dt.date(2026, 12, 28))
    assert error.message == "No first session could be placed in the 7 days from Mon 28 Dec."
    days = error.details["days"]
    assert "Mon 28 Dec: the site is closed (Winter break)" in days
    assert "Thu 31 Dec: the site is closed (Winter break)" in days
    assert "Fri 1 Jan 2027: the site is closed (Winter break)" in days
    assert "Sat 2 Jan 2027: the site is closed on Saturdays" in days
    assert not any("Dec 2026" in day for day in days)


def test_later_starts_inside_a_closure_are_one_alternative_named_by_the_day_the_course_starts(winter):
    """Starts on Tue 29, Wed 30 and Thu 31 Dec (and on to Mon 4 Jan) all come to the course that starts
    on Mon 4 Jan: it is offered once, as "Start Mon 4 Jan 2027", and the next two different courses
    fill the three offers."""
    plan = plan_for(winter, dt.date(2026, 12, 28))
    alternatives = refused(winter, plan, dt.date(2026, 12, 28)).details["alternatives"]
    site = winter.site.name
    assert [alternative["label"] for alternative in alternatives] == [
        f"Start Mon 4 Jan 2027 at {site}",
        f"Start Tue 5 Jan 2027 at {site}",
        f"Start Wed 6 Jan 2027 at {site}",
    ]
    courses = [tuple(session["starts_at"] for session in alternative["sessions"]) for alternative in alternatives]
    assert len(set(courses)) == 3
    assert [alternative["first_session"] for alternative in alternatives] == [
        "2027-01-04T13:00:00Z",
        "2027-01-05T13:00:00Z",
        "2027-01-06T13:00:00Z",
    ]
    # Each is a whole course, booked as it is offered (the first of them here).
    offered = alternatives[0]["sessions"]
    booked = services.course_book(
        plan=plan,
        actor=winter.front_desk.user,
        now=NOW,
        sessions=[ProposedSession.from_alternative(session) for session in offered],
    )
    assert booked[0].starts_at.astimezone(NY).date() == dt.date(2027, 1, 4)
    assert all(a.phase == Phase.INDUCTION for a in booked)


def test_a_closed_day_says_closed_not_too_soon_after_the_session_before(winter):
    """The patient's session on Mon 14 Dec at 16:00 puts the course's first session on Wed 16 Dec at
    16:00 (48 hours later), and the second no sooner than Fri 18 Dec at 16:00. Fri 18 Dec is the first
    day of the break: it says so (as staff read a closure, with its reason), not that it is too soon."""
    plan = plan_for(winter, dt.date(2026, 12, 14))
    services.appointment_book(
        patient=plan.patient,
        plan=plan,
        phase=Phase.INDUCTION,
        site=winter.site,
        starts_at=at_new_york(dt.date(2026, 12, 14), 16),
        actor=winter.front_desk.user,
        now=NOW,
    )
    error = refused(winter, plan, dt.date(2026, 12, 16))
    assert error.message.startswith("Only 2 of 6 sessions fit within 21 days from Wed 16 Dec "), error.message
    days = error.details["days"]
    assert "Thu 17 Dec: too soon after the previous session" in days
    assert "Fri 18 Dec: the site is closed (Winter break)" in days
    assert not any(day.startswith("Fri 18 Dec: too soon") for day in days)


def test_a_course_whose_window_runs_past_the_review_date_names_the_date(winter):
    """From Thu 10 Jun 2027 four sessions fit by the review date, Sat 19 Jun; no nurse is on shift
    after it (as in the demo), but what stops the course there is the review date: the refusal names
    it, and the days after it give it as their reason."""
    plan = plan_for(winter, dt.date(2027, 6, 10))
    error = refused(winter, plan, dt.date(2027, 6, 10))
    assert error.message.startswith("Only 4 of 6 sessions fit within 21 days from Thu 10 Jun 2027 "), error.message
    assert "the plan's review date, Sat 19 Jun 2027" in error.message
    days = error.details["days"]
    assert "Sun 20 Jun 2027: after the plan's review date (Sat 19 Jun 2027)" in days
    assert "Mon 21 Jun 2027: after the plan's review date (Sat 19 Jun 2027)" in days
    assert not any("no nurse is on shift" in day for day in days)
    # The days up to the review date keep their own reasons.
    assert "Fri 11 Jun 2027: too soon after the previous session" in days
    assert error.details["alternatives"] == []


def test_a_course_that_ends_by_the_review_date_does_not_mention_it(winter):
    """The break, not the review date, stops the course from Wed 16 Dec: no word of the review date."""
    plan = plan_for(winter, dt.date(2026, 12, 16))
    error = refused(winter, plan, dt.date(2026, 12, 16))
    assert "review date" not in error.message
    assert not any("review date" in day for day in error.details["days"])


def test_an_any_day_alternative_that_keeps_the_patients_days_is_named_by_the_day_it_starts(winter):
    """The patient comes Monday to Friday (the plan's default): "any open day and time from Mon 28 Dec"
    comes to the same course as the later starts, on weekdays only. It is a plain later start, offered
    once and named as one, not as a course off the patient's days."""
    plan = winter.plan(start_date=dt.date(2026, 12, 28), review_date=REVIEW)
    assert plan.preferred_weekdays == [0, 1, 2, 3, 4]
    alternatives = refused(winter, plan, dt.date(2026, 12, 28)).details["alternatives"]
    site = winter.site.name
    assert [alternative["label"] for alternative in alternatives] == [
        f"Start Mon 4 Jan 2027 at {site}",
        f"Start Tue 5 Jan 2027 at {site}",
        f"Start Wed 6 Jan 2027 at {site}",
    ]


def test_an_any_day_alternative_off_the_patients_days_keeps_its_name(winter):
    """Mondays only: the course from Mon 4 Jan on any open day (asked from Tue 29 Dec) is off the
    patient's days, and says so."""
    plan = winter.plan(
        start_date=dt.date(2026, 12, 29), review_date=REVIEW, preferences=Preferences(weekdays=frozenset({0}))
    )
    alternatives = refused(winter, plan, dt.date(2026, 12, 29)).details["alternatives"]
    assert alternatives[0]["label"] == f"Any open day and time from Tue 29 Dec at {winter.site.name}"
    assert alternatives[0]["first_session"] == "2027-01-04T13:00:00Z"


def test_a_refusal_asked_in_december_says_next_years_days_with_their_year_whatever_the_gap(db):
    """Asked on Mon 28 Dec 2026 for a course from Wed 30 Dec, with an infusion booked that morning (48 h
    gap: not before Fri 1 Jan 2027) and the site closed 1-10 Jan: the year the refusal is read in is the
    year of the desk's now (2026), not of the first instant the gap allows (2027)."""
    asked_on = dt.datetime(2026, 12, 28, 17, tzinfo=dt.UTC)  # Mon 28 Dec 2026, noon in New York
    clinic = make_clinic(days=0)
    for nurse in clinic.nurses:
        add_shifts(nurse, clinic.site, dt.date(2026, 12, 1), 90)
    Closure.objects.create(
        site=clinic.site,
        reason="New year break",
        starts_at=at_new_york(dt.date(2027, 1, 1), 0),
        ends_at=at_new_york(dt.date(2027, 1, 11), 0),
    )
    plan = plan_for(clinic, dt.date(2026, 12, 28))
    AppointmentFactory(
        patient=plan.patient,
        chair=clinic.chairs[0],
        nurse=clinic.nurses[0],
        starts_at=at_new_york(dt.date(2026, 12, 30), 10),
        ends_at=at_new_york(dt.date(2026, 12, 30), 11),
    )
    with pytest.raises(CourseDoesNotFit) as caught:
        services.course_propose(plan=plan, start_date=dt.date(2026, 12, 30), now=asked_on, actor=clinic.front_desk.user)
    error = caught.value
    days = error.details["days"]
    assert "Fri 1 Jan 2027: the site is closed (New year break)" in days, days
    assert "Wed 30 Dec: too soon after the previous session" in days, days
    labels = [alternative["label"] for alternative in error.details["alternatives"]]
    assert labels and all("2027" in label for label in labels), labels
    assert "2026" not in error.message, error.message


def test_a_course_starting_next_year_says_its_first_day_with_the_year(winter):
    """Asked on Sun 6 Dec 2026 for Tue 29 Dec, the course starts Mon 4 Jan 2027 after the break: its
    note says the day with its year, as its refusals do."""
    asked = dt.date(2026, 12, 29)
    plan = plan_for(winter, asked)
    proposal = services.course_propose(plan=plan, start_date=asked, now=NOW, actor=winter.front_desk.user)
    starts = [note for note in proposal.notes if note.startswith("Starts ")]
    assert starts, proposal.notes
    assert starts[0].startswith("Starts Mon 4 Jan 2027; Tue 29 Dec: "), starts
