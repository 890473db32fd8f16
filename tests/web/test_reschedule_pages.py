"""Patients moving their own session within the clinic's rules: the notice period
(the reminder policy's patient_notice_hours) and the protocol's spacing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from tests.web.conftest import NOW, login

pytestmark = pytest.mark.django_db


def _url(appointment) -> str:
    return reverse("web:portal-reschedule", args=[appointment.pk])


def _times(response):
    return [slot for day in response.context["days"] for slot in day["times"]]


def test_the_portal_offers_to_change_the_time_and_moves_the_session_to_an_allowed_time(client, web):
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)
    assert _url(last) in client.get(reverse("home")).content.decode()
    response = client.get(_url(last))
    assert response.status_code == 200
    times = _times(response)
    assert times and all(slot.start != last.starts_at for slot in times)
    target = times[-1]
    moved = client.post(
        _url(last),
        {
            "first_day": response.context["search"].data["first_day"],
            "last_day": response.context["search"].data["last_day"],
            "slot": f"{target.start.isoformat()}|{target.chair_id}",
        },
    )
    assert moved.status_code == 302 and moved["Location"] == reverse("home")
    last.refresh_from_db()
    assert last.starts_at == target.start
    assert last.history.first().history_user == web.patient_a.user
    assert "Your session has moved from" in client.get(reverse("home")).content.decode()


def test_times_that_break_the_protocols_spacing_are_not_offered_and_are_refused_when_forged(client, web):
    second, third = web.sessions_a[1], web.sessions_a[2]
    login(client, web.patient_a.user)
    response = client.get(_url(second), {"first_day": "2026-03-02", "last_day": "2026-03-08"})
    assert all(abs(slot.start - third.starts_at) >= dt.timedelta(hours=48) for slot in _times(response))
    forged = third.starts_at - dt.timedelta(hours=24)
    refused = client.post(
        _url(second),
        {
            "first_day": "2026-03-02",
            "last_day": "2026-03-08",
            "slot": f"{forged.isoformat()}|{web.clinic.chairs[2].pk}",
        },
    )
    assert refused.status_code == 409
    assert "less than 48 hours from session" in refused.content.decode()
    second.refresh_from_db()
    assert second.starts_at == web.sessions_a[1].starts_at


def test_inside_the_notice_period_the_patient_is_asked_to_call(client, web):
    first = web.sessions_a[0]  # 2 March 13:00 UTC; the policy wants 24 hours' notice
    with time_machine.travel(first.starts_at - dt.timedelta(hours=20), tick=False):
        login(client, web.patient_a.user)  # signed in then: days earlier the idle sign-out would have ended it
        page = client.get(_url(first)).content.decode()
        assert "can no longer be changed online" in page and "call" in page
        assert client.post(_url(first), {"slot": "x"}).status_code == 409
    first.refresh_from_db()
    assert first.starts_at == web.sessions_a[0].starts_at


def test_a_new_time_inside_the_notice_period_is_refused(client, web):
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)
    soon = NOW + dt.timedelta(hours=3)
    response = client.post(
        _url(last),
        {"first_day": "2026-02-27", "last_day": "2026-03-05", "slot": f"{soon.isoformat()}|{web.clinic.chairs[0].pk}"},
    )
    assert response.status_code == 409
    assert "less than 24 hours away cannot be booked online" in response.content.decode()


def test_another_patients_session_is_not_found_and_staff_are_refused(client, web):
    login(client, web.patient_b.user)
    assert client.get(_url(web.sessions_a[-1])).status_code == 404
    assert client.post(_url(web.sessions_a[-1]), {"slot": "x"}).status_code == 404
    client.logout()
    login(client, web.desk.user)
    assert client.get(_url(web.sessions_a[-1])).status_code == 403


def test_the_portal_moves_a_session_to_the_chosen_time_on_the_chair_the_policy_takes(client, web):
    # The patient picks a time; the chair sent with it (a forged or stale one here: the third
    # chair) is not the patient's to choose. The booking service places the session by the
    # site's policy at that time, on a chair free then.
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)
    response = client.get(_url(last))
    target = _times(response)[-1]
    forged_chair = next(c for c in web.clinic.chairs if c.pk != target.chair_id)
    moved = client.post(
        _url(last),
        {
            "first_day": response.context["search"].data["first_day"],
            "last_day": response.context["search"].data["last_day"],
            "slot": f"{target.start.isoformat()}|{forged_chair.pk}",
        },
    )

    assert moved.status_code == 302
    last.refresh_from_db()
    assert last.starts_at == target.start
    assert last.chair_id == target.chair_id  # the policy's chair at that time (earliest: the first free)
