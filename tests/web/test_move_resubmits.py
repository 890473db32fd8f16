"""A form posted twice (a double click, the browser's back button and "resend") must not act twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from scheduling.models import AppointmentStatus
from scheduling.services import appointment_confirm
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def _around(appointment) -> dict[str, str]:
    day = appointment.starts_at.astimezone(appointment.site.zone).date()
    return {"first_day": (day - dt.timedelta(days=3)).isoformat(), "last_day": (day + dt.timedelta(days=3)).isoformat()}


def _moves(appointment) -> int:
    return appointment.history.filter(history_change_reason__startswith="Moved from").count()


def test_the_desks_move_posted_again_does_not_move_the_session_a_second_time(client, web):
    session = web.sessions_a[-1]
    url = reverse("web:move-session", args=[session.pk])
    login(client, web.desk.user)
    page = client.get(url, _around(session))
    target = [c for day in page.context["days"] for c in day["free"]][-1]
    form = {**_around(session), "slot": target["value"]}
    assert client.post(url, form).status_code == 302
    session.refresh_from_db()
    appointment_confirm(appointment=session, actor=web.patient_a.user, now=session.starts_at - dt.timedelta(days=3))

    client.post(url, form)  # the same form again: nothing is to change

    session.refresh_from_db()
    assert session.status == AppointmentStatus.CONFIRMED, "the patient's confirmation is wiped by a no-op move"
    assert _moves(session) == 1, "a 'move' to the time the session already has is recorded as a second move"


def test_the_patients_reschedule_posted_again_does_not_move_the_session_a_second_time(client, web):
    session = web.sessions_a[-1]
    url = reverse("web:portal-reschedule", args=[session.pk])
    login(client, web.patient_a.user)
    page = client.get(url)
    target = [slot for day in page.context["days"] for slot in day["times"]][-1]
    form = {
        "first_day": page.context["search"].data["first_day"],
        "last_day": page.context["search"].data["last_day"],
        "slot": f"{target.start.isoformat()}|{target.chair_id}",
    }
    assert client.post(url, form).status_code == 302
    session.refresh_from_db()
    client.post(reverse("web:portal-action", args=[session.pk, "confirm"]))
    session.refresh_from_db()
    assert session.status == AppointmentStatus.CONFIRMED

    client.post(url, form)  # the browser resends the reschedule form

    session.refresh_from_db()
    assert session.status == AppointmentStatus.CONFIRMED, "the patient's own confirmation is wiped by a no-op move"
    assert _moves(session) == 1, "a 'move' to the time the session already has is recorded as a second move"
