"""The day board and the week on the nights the clocks change, at the test clinic
(America/New_York): a session at 01:30 on the night the clocks go back is on that day twice over
(once per 01:30), and one across the skipped hour is drawn by its wall-clock times."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from tests.factories import AppointmentFactory, PatientFactory
from tests.web.conftest import login

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def _items(response):
    return [
        (lane.obj.pk, item.obj.pk, item.column, item.width)
        for lane in response.context["grid"].lanes
        for item in lane.items
        if item.kind == "session"
    ]


def test_fall_back_day_shows_both_sessions_at_0130(client, web):
    site = web.clinic.site
    first = AppointmentFactory(
        patient=PatientFactory(home_site=site, first_name="Early", last_name="Firstfold"),
        chair=web.clinic.chairs[0],
        nurse=web.nurse,
        starts_at=dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC),  # 01:30 EDT
    )
    second = AppointmentFactory(
        patient=PatientFactory(home_site=site, first_name="Late", last_name="Secondfold"),
        chair=web.clinic.chairs[1],
        nurse=web.nurse,
        starts_at=dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC),  # 01:30 EST
    )
    assert second.starts_at - first.starts_at == dt.timedelta(hours=1)
    login(client, web.desk.user)
    response = client.get(reverse("web:board") + "?day=2026-11-01")
    assert response.status_code == 200
    assert {a.pk for a in response.context["sessions"]} == {first.pk, second.pk}
    placed = {pk for _, pk, _, _ in _items(response)}
    assert placed == {first.pk, second.pk}
    html = response.content.decode()
    assert "Firstfold" in html and "Secondfold" in html
    # The next day and the day before show neither.
    for other in ("2026-10-31", "2026-11-02"):
        r = client.get(reverse("web:board") + f"?day={other}")
        assert not {a.pk for a in r.context["sessions"]} & {first.pk, second.pk}
    week = client.get(reverse("web:week") + "?day=2026-11-01")
    days = {d: [a.pk for a in sessions] for d, sessions, _, _ in week.context["days"]}
    assert set(days[dt.date(2026, 11, 1)]) == {first.pk, second.pk}


def test_spring_forward_day_session_after_the_gap(client, web):
    site = web.clinic.site
    a = AppointmentFactory(
        patient=PatientFactory(home_site=site, last_name="Springer"),
        chair=web.clinic.chairs[0],
        nurse=web.nurse,
        starts_at=dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC),  # 01:30 EST
    )
    login(client, web.desk.user)
    response = client.get(reverse("web:board") + "?day=2026-03-08")
    assert response.status_code == 200
    [(_chair, _pk, column, width)] = [i for i in _items(response) if i[1] == a.pk]
    # 01:30 EST to 04:30 EDT (two hours elapsed): wall clock 90 to 270 minutes.
    axis = response.context["grid"].axis
    assert axis.start + (column - 1) * 5 == 90
    assert (column - 1 + width) * 5 + axis.start == 270
