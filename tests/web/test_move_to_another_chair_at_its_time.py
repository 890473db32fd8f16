"""The desk's move page offers the session's own time in another chair: the way to take a session
out of a chair that is out of use, or to swap chairs, without changing the patient's time. Only the
session's own time in its own chair (a move to nowhere) is left out."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import Closure
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def _own_day(session) -> dict[str, str]:
    day = session.starts_at.astimezone(session.site.zone).date().isoformat()
    return {"first_day": day, "last_day": day}


def _at_its_time(page, session) -> list[dict]:
    return [c for day in page.context["days"] for c in day["free"] if c["start"] == session.starts_at]


def test_its_own_time_is_offered_in_another_chair_not_its_own(client, web):
    session = web.sessions_a[-1]
    url = reverse("web:move-session", args=[session.pk])
    login(client, web.desk.user)
    page = client.get(url, _own_day(session))
    assert page.status_code == 200
    offered = _at_its_time(page, session)
    assert len(offered) == 1, [c["value"] for day in page.context["days"] for c in day["free"]]
    assert not offered[0]["value"].endswith(f"|{session.chair_id}")
    assert sum(1 for day in page.context["days"] for c in day["free"] if c["why"]) <= 1, "one suggestion a search"
    moved = client.post(url, {**_own_day(session), "slot": offered[0]["value"]})
    assert moved.status_code == 302, moved.context.get("problem") if moved.context else moved
    before = session.chair_id
    session.refresh_from_db()
    assert session.starts_at == offered[0]["start"] and session.chair_id != before


def test_a_session_in_a_chair_out_of_use_is_offered_its_time_in_another_chair(client, web):
    session = web.sessions_a[-1]
    day = session.starts_at.astimezone(session.site.zone).date()
    Closure.objects.create(
        site=session.site,
        chair=session.chair,
        reason="IV pump broken",
        starts_at=dt.datetime.combine(day, dt.time(0), tzinfo=session.site.zone),
        ends_at=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=session.site.zone),
    )
    url = reverse("web:move-session", args=[session.pk])
    login(client, web.desk.user)
    offered = _at_its_time(client.get(url, _own_day(session)), session)
    assert len(offered) == 1
    assert not offered[0]["value"].endswith(f"|{session.chair_id}")


def test_searching_its_own_chair_leaves_its_own_time_out(client, web):
    session = web.sessions_a[-1]
    url = reverse("web:move-session", args=[session.pk])
    login(client, web.desk.user)
    page = client.get(url, {**_own_day(session), "chair": session.chair_id})
    assert page.status_code == 200
    assert _at_its_time(page, session) == []
    assert any(day["free"] for day in page.context["days"]), "other times in its chair are still offered"
