"""The time the site's placement policy suggests is picked already on the booking page and the portal's
own move page, so Book takes it; a time the request names (a board gap, a pick sent back) still wins.
A cancelled or past session on the portal's move page is said to be so."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from scheduling.services import appointment_cancel
from tests.web.conftest import NOW, login, make_patient

pytestmark = pytest.mark.django_db

ONE_WEEK = {"first_day": "2026-03-02", "last_day": "2026-03-08", "kind": "make-up"}


def _checked(text: str) -> list[str]:
    return [
        part.split('"', 1)[0] for part in text.split('name="slot" value="')[1:] if " checked" in part.split(">", 1)[0]
    ]


def test_the_booking_page_picks_the_suggested_time_when_none_is_named(client, web):
    plan = web.clinic.plan(patient=make_patient(web.clinic, "patient_c", "Cleo", "Cole"))
    login(client, web.desk.user)
    response = client.get(reverse("web:book-session", args=[plan.patient.pk]), ONE_WEEK)
    assert response.status_code == 200
    [suggested] = [c for day in response.context["days"] for c in day["free"] if c["why"]]
    assert response.context["preselect"] == suggested["value"]
    assert _checked(response.content.decode()) == [suggested["value"]]
    # Book with nothing else chosen books the suggested time.
    booked = client.post(reverse("web:book-session", args=[plan.patient.pk]), {**ONE_WEEK, "slot": suggested["value"]})
    assert booked.status_code == 302
    assert plan.appointments.get().starts_at == suggested["start"]


def test_the_suggested_times_own_button_at_the_top_books_it_whatever_is_picked_below(client, web):
    # The list can run to dozens of times a day: the suggestion at its top has a button of its own.
    plan = web.clinic.plan(patient=make_patient(web.clinic, "patient_c", "Cleo", "Cole"))
    login(client, web.desk.user)
    url = reverse("web:book-session", args=[plan.patient.pk])
    page = client.get(url, ONE_WEEK)
    [suggested] = [c for day in page.context["days"] for c in day["free"] if c["why"]]
    summary = page.content.decode().split('data-testid="suggestion-summary">', 1)[1].split("</p>", 1)[0]
    assert f'name="suggested" value="{suggested["value"]}"' in summary and "Book the suggested time" in summary
    other = [c for day in page.context["days"] for c in day["free"] if not c["why"]][-1]
    booked = client.post(url, {**ONE_WEEK, "slot": other["value"], "suggested": suggested["value"]})
    assert booked.status_code == 302
    assert plan.appointments.get().starts_at == suggested["start"]


def test_a_time_named_by_the_request_wins_over_the_suggested_one(client, web):
    plan = web.clinic.plan(patient=make_patient(web.clinic, "patient_c", "Cleo", "Cole"))
    login(client, web.desk.user)
    url = reverse("web:book-session", args=[plan.patient.pk])
    page = client.get(url, ONE_WEEK)
    other = [c for day in page.context["days"] for c in day["free"] if not c["why"]][-1]
    # A gap from the day board.
    start, chair = other["value"].split("|")
    from_board = client.get(url, {"chair": chair, "at": start})
    assert _checked(from_board.content.decode()) == [
        f"{dt.datetime.fromisoformat(start).astimezone(dt.UTC).isoformat()}|{chair}"
    ]
    # A pick sent back (refused: a reason field too long) comes back picked.
    sent = client.post(url, {**ONE_WEEK, "slot": other["value"], "override_reason": "x" * 501})
    assert sent.status_code == 400
    assert _checked(sent.content.decode()) == [other["value"]]


def test_the_portal_move_page_picks_the_suggested_time(client, web):
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)
    response = client.get(reverse("web:portal-reschedule", args=[last.pk]))
    assert response.status_code == 200
    [suggested] = [day["suggested"] for day in response.context["days"] if day["suggested"] is not None]
    assert _checked(response.content.decode()) == [f"{suggested.start.isoformat()}|{suggested.chair_id}"]
    # A pick the move refuses comes back picked, not the suggested one.
    others = [slot for day in response.context["days"] for slot in day["times"] if slot.start != suggested.start]
    chosen = others[-1]
    picked = f"{chosen.start.isoformat()}|{chosen.chair_id}"
    sent = client.post(
        reverse("web:portal-reschedule", args=[last.pk]),
        {**{k: response.context["search"].data[k] for k in ("first_day", "last_day")}, "slot": picked + "x"},
    )
    assert sent.status_code == 400
    assert _checked(sent.content.decode()) == [f"{suggested.start.isoformat()}|{suggested.chair_id}"]


def test_the_portal_says_a_cancelled_session_was_cancelled(client, web):
    session = web.sessions_a[-1]
    appointment_cancel(appointment=session, reason="Unwell", actor=web.desk.user, now=NOW)
    login(client, web.patient_a.user)
    text = client.get(reverse("web:portal-reschedule", args=[session.pk])).content.decode()
    assert "This session was cancelled" in text
    assert "less than" not in text


def test_the_portal_says_a_session_gone_by_is_past_and_one_too_near_is_too_near(client, web, time_machine):
    first = web.sessions_a[0]
    time_machine.move_to(first.starts_at + dt.timedelta(hours=2), tick=False)
    login(client, web.patient_a.user)
    past = client.get(reverse("web:portal-reschedule", args=[first.pk])).content.decode()
    assert "This session is past" in past and "less than" not in past
    time_machine.move_to(first.starts_at - dt.timedelta(hours=3), tick=False)
    client.logout()
    login(client, web.patient_a.user)
    near = client.get(reverse("web:portal-reschedule", args=[first.pk])).content.decode()
    assert "there are less than" in near and "past" not in near.split('data-testid="cannot-move"')[1][:200]
