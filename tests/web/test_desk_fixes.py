"""Front-desk pages: check-in only on the day and its undo, cancel without silent rebooking,
local times everywhere, phone search, closures on the board and week."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from scheduling.models import AppointmentStatus
from tests.web.conftest import login


def test_the_board_offers_check_in_only_on_the_sessions_day_and_the_service_refuses_it_earlier(client, web):
    first = web.sessions_a[0]
    login(client, web.desk.user)
    board = reverse("web:board") + "?day=" + first.starts_at.astimezone(web.clinic.site.zone).date().isoformat()
    response = client.get(board)
    assert b"check-in/" not in response.content, "three days ahead: no check-in button"
    response = client.post(reverse("web:appointment-action", args=[first.pk, "check-in"]), {"next": board}, follow=True)
    assert b"Check-in for this session opens" in response.content
    first.refresh_from_db()
    assert first.status == AppointmentStatus.BOOKED


def test_the_front_desk_undoes_a_mistaken_check_in_from_the_board_with_a_reason(client, web, time_machine):
    first = web.sessions_a[0]
    time_machine.move_to(first.starts_at - dt.timedelta(minutes=10), tick=False)
    login(client, web.desk.user)
    board = reverse("web:board") + "?day=" + first.starts_at.astimezone(web.clinic.site.zone).date().isoformat()
    assert reverse("web:appointment-action", args=[first.pk, "check-in"]).encode() in client.get(board).content
    client.post(reverse("web:appointment-action", args=[first.pk, "check-in"]), {"next": board})
    response = client.get(board)
    undo_url = reverse("web:appointment-action", args=[first.pk, "undo-check-in"])
    assert undo_url.encode() in response.content
    response = client.post(undo_url, {"next": board, "reason": ""}, follow=True)
    assert b"Give a reason for undoing the check-in" in response.content
    client.post(undo_url, {"next": board, "reason": "Wrong patient"})
    first.refresh_from_db()
    assert first.status == AppointmentStatus.BOOKED and first.checked_in_at is None
    assert first.history.first().history_change_reason == "Check-in undone: Wrong patient"
    assert first.history.first().history_user == web.desk.user
