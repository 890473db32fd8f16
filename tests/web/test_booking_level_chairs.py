"""The desk's booking and move pages at a level-loaded site: each free time is listed with the chair
level placement gives it, and picking it books that chair. Listed with the first free chair, a
time the day template gives another chair was booked off the template."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import Site
from scheduling.engine.placement import LEVEL
from scheduling.models import Appointment, AppointmentStatus, DayTemplate, DayTemplateState
from scheduling.services import appointment_cancel
from tests.web.conftest import NOW, Web, login

pytestmark = pytest.mark.django_db
TEMPLATE_START = dt.time(14)


def _level_site_with_a_template(web: Web) -> None:
    """The site level-loads, its day template starting Chair 3 at 14:00."""
    Site.objects.filter(pk=web.clinic.site.pk).update(placement_policy=LEVEL)
    web.clinic.site.refresh_from_db()
    DayTemplate.objects.create(
        site=web.clinic.site,
        state=DayTemplateState.DONE,
        starts=[{"chair_id": web.clinic.chairs[2].pk, "start": "14:00", "protocol_id": web.clinic.protocol.pk}],
        sessions_per_day=1,
        requested_at=NOW,
        computed_at=NOW,
    )


def _free_at_template_start(response, web: Web) -> list[dict]:
    zone = web.clinic.site.zone
    return [
        choice
        for day in response.context["days"]
        for choice in day["free"]
        if choice["start"].astimezone(zone).time() == TEMPLATE_START
    ]


def test_the_move_page_lists_the_template_start_in_its_chair_and_moves_the_session_there(client, web):
    _level_site_with_a_template(web)
    chair = web.clinic.chairs[2]
    session = web.sessions_a[-1]
    day = session.starts_at.astimezone(web.clinic.site.zone).date()
    search = {
        "first_day": (day - dt.timedelta(days=3)).isoformat(),
        "last_day": (day + dt.timedelta(days=3)).isoformat(),
    }
    url = reverse("web:move-session", args=[session.pk])
    login(client, web.desk.user)

    listed = _free_at_template_start(client.get(url, search), web)

    assert listed and all(choice["chair"] == chair.name for choice in listed), [c["chair"] for c in listed]
    response = client.post(url, {**search, "slot": listed[0]["value"]})
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.starts_at, session.chair_id) == (listed[0]["start"], chair.pk)


def test_the_booking_page_lists_the_template_start_in_its_chair_and_books_it_there(client, web):
    _level_site_with_a_template(web)
    chair = web.clinic.chairs[2]
    missed = web.sessions_a[-1]
    appointment_cancel(appointment=missed, actor=web.desk.user, reason="Unwell", now=NOW, rebook=False)
    last_kept = web.sessions_a[-2].starts_at.astimezone(web.clinic.site.zone).date()
    search = {
        "kind": "make-up",
        "first_day": (last_kept + dt.timedelta(days=2)).isoformat(),
        "last_day": (last_kept + dt.timedelta(days=6)).isoformat(),
    }
    url = reverse("web:book-session", args=[web.patient_a.pk])
    login(client, web.desk.user)

    listed = _free_at_template_start(client.get(url, search), web)

    assert listed and all(choice["chair"] == chair.name for choice in listed), [c["chair"] for c in listed]
    assert client.post(url, {**search, "slot": listed[0]["value"]}).status_code == 302
    booked = Appointment.objects.get(plan=web.plan_a, starts_at=listed[0]["start"], status=AppointmentStatus.BOOKED)
    assert booked.chair_id == chair.pk
