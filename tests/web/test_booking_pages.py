"""Booking one session and moving one session from the free-slot finder: who
may, staff only at their sites, rule refusals explained in words, clinicians
accepting a break with a reason, and fixed query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.models import Role
from scheduling.models import Appointment, AppointmentStatus, Phase
from scheduling.services import appointment_cancel, course_book
from tests.factories import PatientFactory, SiteFactory, StaffFactory, UserFactory
from tests.web.conftest import NOW, START, login

pytestmark = pytest.mark.django_db

MOVE_QUERIES = 14
SEARCH = {"first_day": "2026-03-02", "last_day": "2026-03-08"}


def _choices(response, *, refused: bool):
    if refused:
        return [c for day in response.context["days"] for c in day["choices"] if c["refused"]]
    return [c for day in response.context["days"] for c in day["free"]]


def _around(appointment) -> dict[str, str]:
    day = appointment.starts_at.astimezone(appointment.site.zone).date()
    return {"first_day": (day - dt.timedelta(days=3)).isoformat(), "last_day": (day + dt.timedelta(days=3)).isoformat()}


def _move_url(appointment):
    return reverse("web:move-session", args=[appointment.pk])


@pytest.mark.parametrize(
    ("persona", "status"), [("desk", 200), ("nurse", 200), ("prescriber", 200), ("admin", 403), ("patient_a", 403)]
)
def test_booking_and_move_pages_are_for_the_front_desk_and_clinicians(client, web, persona, status):
    user = {
        "desk": web.desk.user,
        "nurse": web.nurse.user,
        "prescriber": web.prescriber.user,
        "admin": web.admin.user,
        "patient_a": web.patient_a.user,
    }[persona]
    login(client, user)
    assert client.get(_move_url(web.sessions_a[1])).status_code == status
    assert client.get(reverse("web:book-session", args=[web.patient_a.pk])).status_code == status


def test_staff_of_another_site_cannot_open_or_move_its_sessions(client, web):
    outsider = StaffFactory(
        role=Role.FRONT_DESK, sites=[SiteFactory(name="Lakeside")], user=UserFactory(username="lake")
    )
    login(client, outsider.user)
    session = web.sessions_a[1]
    assert client.get(_move_url(session)).status_code == 404
    assert client.post(_move_url(session), {**SEARCH, "slot": "2026-03-06T15:00:00+00:00|1"}).status_code == 404
    assert client.get(reverse("web:book-session", args=[web.patient_a.pk])).status_code == 404
    session.refresh_from_db()
    assert session.starts_at == web.sessions_a[1].starts_at


def test_the_move_page_lists_free_times_and_explains_the_ones_the_protocol_refuses(client, web):
    login(client, web.desk.user)
    last = web.sessions_a[-1]
    response = client.get(_move_url(last), _around(last))
    assert response.status_code == 200
    refused = _choices(response, refused=True)
    free = _choices(response, refused=False)
    assert free and refused
    reasons = " ".join(r for c in refused for r in c["refused"])
    assert "less than 48 hours from session" in reasons
    assert "another session of this plan is already on" in reasons
    page = response.content.decode()
    assert "refused by the plan's rules: less than 48 hours from session" in page
    # The front desk cannot pick a refused time: it is explained, not offered.
    assert all(f'value="{c["value"]}"' not in page for c in refused)
    assert all(f'value="{c["value"]}"' in page for c in free)
    # Weekends: the site is closed, and the page says so.
    assert "No free time: the site is closed on Saturdays." in page
    # Its own time is not offered as a move in its own chair (in another, it is).
    assert all(not c["value"].endswith(f"|{last.chair_id}") for c in free if c["start"] == last.starts_at)


def test_the_desk_moves_a_session_to_a_free_time(client, web):
    login(client, web.desk.user)
    session = web.sessions_a[-1]
    free = _choices(client.get(_move_url(session), _around(session)), refused=False)
    target = free[-1]
    response = client.post(_move_url(session), {**_around(session), "slot": target["value"]})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.starts_at == target["start"]
    assert session.status == AppointmentStatus.BOOKED
    assert session.history.first().history_user == web.desk.user
    page = client.get(response["Location"]).content.decode()
    assert "Moved Alice Archer&#x27;s session from" in page


def test_a_refused_time_is_refused_for_the_desk_in_words_and_accepted_for_a_clinician_with_a_reason(client, web):
    session = web.sessions_a[1]
    login(client, web.desk.user)
    target = _choices(client.get(_move_url(session), SEARCH), refused=True)[0]
    response = client.post(_move_url(session), {**SEARCH, "slot": target["value"]})
    assert response.status_code == 409
    assert "This change breaks the plan&#x27;s rules" in response.content.decode()
    session.refresh_from_db()
    assert session.starts_at == web.sessions_a[1].starts_at

    client.logout()
    login(client, web.prescriber.user)
    response = client.post(
        _move_url(session), {**SEARCH, "slot": target["value"], "override_reason": "Patient travels; discussed risk"}
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.starts_at == target["start"]
    assert session.rule_override_reason == "Patient travels; discussed risk"


def test_a_clinician_is_offered_the_refused_times_behind_a_reason(client, web):
    login(client, web.prescriber.user)
    response = client.get(_move_url(web.sessions_a[1]), SEARCH)
    refused = _choices(response, refused=True)
    page = response.content.decode()
    assert "Take one anyway (with a reason)" in page
    assert all(f'value="{c["value"]}"' in page for c in refused)


def test_a_missing_or_forged_slot_is_a_clear_400(client, web):
    login(client, web.desk.user)
    for slot in ("", "tomorrow|x", "2026-03-06T10:00:00|1"):
        response = client.post(_move_url(web.sessions_a[1]), {**SEARCH, "slot": slot})
        assert response.status_code == 400, slot
        assert "Pick one of the free times." in response.content.decode()


def test_a_session_that_is_not_upcoming_cannot_be_moved(client, web):
    session = web.sessions_a[2]
    appointment_cancel(appointment=session, actor=web.desk.user, reason="Unwell", now=NOW, rebook=False)
    login(client, web.desk.user)
    response = client.get(_move_url(session))
    assert "cannot be moved" in response.content.decode()
    assert response.context.get("days") is None


def test_the_desk_books_a_make_up_session_on_the_plan_from_the_free_times(client, web):
    missed = web.sessions_a[-1]
    appointment_cancel(appointment=missed, actor=web.desk.user, reason="Unwell", now=NOW, rebook=False)
    login(client, web.desk.user)
    url = reverse("web:book-session", args=[web.patient_a.pk])
    last_kept = web.sessions_a[-2].starts_at.astimezone(web.clinic.site.zone).date()
    search = {
        "kind": "make-up",
        "first_day": last_kept.isoformat(),
        "last_day": (last_kept + dt.timedelta(days=6)).isoformat(),
    }
    response = client.get(url, search)
    free = _choices(response, refused=False)
    assert free and all(c["start"] - web.sessions_a[-2].starts_at >= dt.timedelta(hours=48) for c in free)
    response = client.post(url, {**search, "slot": free[0]["value"]})
    assert response.status_code == 302
    made_up = Appointment.objects.get(plan=web.plan_a, starts_at=free[0]["start"], status=AppointmentStatus.BOOKED)
    assert (made_up.phase, made_up.status, made_up.sequence) == (Phase.INDUCTION, AppointmentStatus.BOOKED, 6)
    assert made_up.booked_by == web.desk.user
    assert "Booked a make-up session for Alice Archer" in client.get(response["Location"]).content.decode()


def test_a_patient_without_an_open_plan_is_told_a_prescriber_creates_one_first(client, web):
    loner = PatientFactory(home_site=web.clinic.site, first_name="Lone", last_name="Walker")
    login(client, web.desk.user)
    response = client.get(reverse("web:book-session", args=[loner.pk]))
    assert response.status_code == 200
    assert "has no open plan" in response.content.decode()


def test_the_move_page_keeps_a_fixed_number_of_queries(client, web, django_assert_max_num_queries):
    login(client, web.desk.user)
    url = _move_url(web.sessions_a[1])
    client.get(url, SEARCH)  # the first use on this connection prepares the hot reads (PREPARE, then EXECUTE)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, SEARCH).status_code == 200
    for _ in range(6):
        plan = web.clinic.plan(patient=PatientFactory(home_site=web.clinic.site))
        course_book(plan=plan, actor=web.desk.user, now=NOW, start_date=START)
    with django_assert_max_num_queries(MOVE_QUERIES), CaptureQueriesContext(connection) as many:
        client.get(url, SEARCH)
    assert len(many) == len(few)
