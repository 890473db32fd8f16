"""The demo clinic has room in the coming days, as a working clinic has: a newcomer who books or
moves a session finds free times in the next open days, not only weeks ahead (every demo patient's
plan used to be booked solid eight weeks out, so the plans' own rules refused every near time).
On PostgreSQL here, on the embedded SQLite that `python3 dev.py run` uses in the last test."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clinic.models import Site
from patients.models import Patient
from scheduling.models import INFUSION_STATUSES, Appointment, PlanStatus
from tests.demo_room import room_in_the_coming_days
from tests.sqlite_shell import run_on_sqlite
from web.management.commands.seed_demo import DEMO_SITE_NAME

# The seed's dates follow the clock: each test runs at the fixed instants of tests/clock.py.
pytestmark = [pytest.mark.django_db, pytest.mark.clock]

MOST_CHAIR_TIME_BOOKED = 0.8


@pytest.fixture
def demo(db) -> Site:
    call_command("seed_demo", stdout=io.StringIO())
    return Site.objects.get(name=DEMO_SITE_NAME)


def _check_room(room: dict) -> None:
    assert len(room["open_days"]) >= 10, room["open_days"]  # two weeks of a six-day clinic, a closure aside
    # Each open day of the next two weeks has free chair time, and is not booked full.
    assert all(room["free_starts"][day] > 0 for day in room["open_days"]), room["free_starts"]
    assert max(room["chair_use"].values()) <= MOST_CHAIR_TIME_BOOKED, room["chair_use"]
    # Patients due a session that is not booked yet: the desk finds a time on one of the next two open days.
    assert len(room["bookable"]) >= 2, room["bookable"]
    assert set(room["bookable"].values()) <= set(room["open_days"][:2])
    # A session booked in the coming two weeks can be moved to another day close to it.
    assert room["stuck"] == [], room["stuck"]


def test_the_coming_days_have_free_chair_time_bookable_patients_and_movable_sessions(demo):
    _check_room(room_in_the_coming_days(site=demo, now=timezone.now()))


def test_the_front_desk_books_a_patient_due_a_session_on_one_of_the_next_two_open_days(demo, client):
    """What a newcomer does: the booking page of a patient due a maintenance session, on the next two
    open days, offers a time (the one the site's placement policy suggests), and booking it works."""
    now = timezone.now()
    room = room_in_the_coming_days(site=demo, now=now)
    first_day, second_day = (dt.date.fromisoformat(day) for day in room["open_days"][:2])
    patient = Patient.objects.get(pk=min(int(pk) for pk in room["bookable"]))
    client.force_login(get_user_model().objects.get(username="frontdesk"))
    url = reverse("web:book-session", args=[patient.pk])
    kind = client.get(url).context["search"]["kind"].value()  # the kind of session the page offers first
    search = {"kind": kind, "first_day": first_day.isoformat(), "last_day": second_day.isoformat(), "chair": ""}
    page = client.get(url, search)
    assert page.status_code == 200, page.context["search"].errors
    suggested = [c for day in page.context["days"] for c in day["free"] if c["why"]]
    assert len(suggested) == 1, [day["free"][:1] for day in page.context["days"]]
    # The page says when the session is due (the plan's interval after the latest session), and how
    # the suggested day stands to it: placement may take a quieter day inside the interval.
    plan = patient.plans.get(status=PlanStatus.ACTIVE)
    latest = plan.appointments.filter(status__in=INFUSION_STATUSES).latest("starts_at").starts_at
    due = latest.astimezone(demo.zone).date() + dt.timedelta(days=plan.maintenance_interval_days)
    html = page.content.decode()
    assert f"Next maintenance session due <strong>{due:%a %-d %b %Y}</strong>" in html
    offset = (suggested[0]["start"].astimezone(demo.zone).date() - due).days
    said = (
        "the day it"
        if offset == 0
        else f"{abs(offset)} day{'s' * (abs(offset) != 1)} {'after' if offset > 0 else 'before'}"
    )
    summary = html.split('data-testid="suggestion-summary">', 1)[1].split("</p>", 1)[0]
    assert f"That is {said}" in summary, summary
    booked = client.post(url, {**search, "slot": suggested[0]["value"]})
    assert booked.status_code == 302, booked.context.get("problem") if booked.context else booked
    session = Appointment.objects.filter(patient=patient, starts_at__gt=now).order_by("-created_at").first()
    assert session is not None
    assert session.starts_at.astimezone(demo.zone).date() in (first_day, second_day)


def test_the_embedded_default_seeds_the_same_room(tmp_path, tmp_path_factory, clock_instant_name):
    """`python3 dev.py run` seeds SQLite: the same room in the coming days there, at the same instant."""
    from tests import clock

    moment = clock.instant(clock_instant_name)
    code = f"""
import datetime as dt, io, json
import time_machine
time_machine.travel(dt.datetime.fromisoformat({moment.isoformat()!r}), tick=False).start()
from django.core.management import call_command
from django.utils import timezone
from clinic.models import Site
from tests.demo_room import room_in_the_coming_days
call_command("seed_demo", stdout=io.StringIO())
room = room_in_the_coming_days(site=Site.objects.get(name={DEMO_SITE_NAME!r}), now=timezone.now())
print("RESULT " + json.dumps(room))
"""
    _check_room(run_on_sqlite(tmp_path, tmp_path_factory, code))
