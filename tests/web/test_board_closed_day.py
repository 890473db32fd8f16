"""The day board of a day the site is closed (a weekday without opening hours, or closures
covering the whole day): the message, without an empty time grid or a nurse load of 0/0; the
sessions still booked on it (booked before the closure was typed in) stay on the board to be moved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import Closure
from scheduling.models import Appointment, AppointmentStatus
from tests.factories import AppointmentFactory, PatientFactory
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

SUNDAY = dt.date(2026, 3, 1)  # the clinic opens Monday to Friday
MONDAY = dt.date(2026, 3, 2)  # the first day of both courses (tests/web/conftest.py)
ROLES = ("desk", "nurse", "prescriber", "admin")


def _board(client, web, day: dt.date) -> str:
    response = client.get(reverse("web:board"), {"day": day.isoformat(), "site": web.clinic.site.pk})
    assert response.status_code == 200
    return response.content.decode()


def _close(web, day: dt.date, *, opens: dt.time = dt.time(0), closes: dt.time | None = None, reason="Staff day"):
    zone = web.clinic.site.zone
    ends_at = (
        dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
        if closes is None
        else dt.datetime.combine(day, closes, tzinfo=zone)
    )
    Closure.objects.create(
        site=web.clinic.site, reason=reason, starts_at=dt.datetime.combine(day, opens, tzinfo=zone), ends_at=ends_at
    )


def _day_without_sessions(web) -> dt.date:
    booked = {a.starts_at.astimezone(web.clinic.site.zone).date() for a in Appointment.objects.all()}
    return next(
        MONDAY + dt.timedelta(days=i)
        for i in range(1, 60)
        if (MONDAY + dt.timedelta(days=i)).weekday() < 5 and MONDAY + dt.timedelta(days=i) not in booked
    )


def _on(web, day: dt.date) -> list[Appointment]:
    return [
        a
        for a in Appointment.objects.select_related("chair")
        if a.starts_at.astimezone(web.clinic.site.zone).date() == day
    ]


@pytest.mark.parametrize("role", ROLES)
def test_a_weekday_the_site_does_not_open_shows_the_message_without_an_empty_grid(client, web, role):
    login(client, getattr(web, role).user)
    html = _board(client, web, SUNDAY)
    assert 'data-testid="not-open"' in html
    assert "does not open on Sundays" in html
    assert 'data-testid="chair-row"' not in html
    assert 'data-testid="nurse-load"' not in html
    assert 'data-testid="free-gap"' not in html
    assert 'data-testid="no-sessions-closed"' in html


@pytest.mark.parametrize("role", ROLES)
def test_a_day_closed_all_day_shows_the_closure_without_an_empty_grid(client, web, role):
    day = _day_without_sessions(web)
    _close(web, day, reason="Staff training")
    login(client, getattr(web, role).user)
    html = _board(client, web, day)
    assert "Closed all day: Staff training" in html
    assert 'data-testid="chair-row"' not in html
    assert 'data-testid="nurse-load"' not in html
    assert 'data-testid="no-sessions-closed"' in html


def test_a_morning_and_an_afternoon_closure_between_them_close_the_day(client, web):
    day = _day_without_sessions(web)
    _close(web, day, closes=dt.time(12), reason="Boiler repair")
    _close(web, day, opens=dt.time(12), reason="Deep clean")
    login(client, web.desk.user)
    html = _board(client, web, day)
    assert 'data-testid="chair-row"' not in html
    assert 'data-testid="nurse-load"' not in html


def test_sessions_booked_before_a_closure_stay_on_the_board_to_be_moved(client, web):
    booked = _on(web, MONDAY)
    assert booked
    _close(web, MONDAY, reason="Flooded waiting room")
    login(client, web.desk.user)
    html = _board(client, web, MONDAY)
    assert "Closed all day: Flooded waiting room" in html
    assert html.count('data-testid="session"') == len(booked)
    for appointment in booked:
        assert f'data-chair="{appointment.chair.name}"' in html
        assert f"/appointments/{appointment.pk}/" in html  # its actions (move, cancel) are offered
    assert html.count('data-testid="no-longer-fits"') == len(booked)
    assert 'data-testid="free-gap"' not in html
    assert 'data-testid="nurse-load"' not in html
    assert 'data-testid="no-sessions-closed"' not in html
    # Only the chairs holding one of them: the others would be empty rows of a closed day.
    assert html.count('data-testid="chair-row"') == len({a.chair_id for a in booked})


def test_a_closed_day_whose_sessions_were_all_cancelled_draws_no_grid(client, web):
    """Once the desk has cancelled every session of a closed day (the usual thing after typing the
    closure in), nothing is left to move: no chair row, and the day says it has no sessions."""
    booked = _on(web, MONDAY)
    assert booked
    _close(web, MONDAY, reason="Flooded waiting room")
    Appointment.objects.filter(pk__in=[a.pk for a in booked]).update(
        status=AppointmentStatus.CANCELLED,
        cancellation_reason="Site closed",
        cancelled_at=dt.datetime.combine(MONDAY - dt.timedelta(days=3), dt.time(9), tzinfo=web.clinic.site.zone),
    )
    login(client, web.desk.user)
    html = _board(client, web, MONDAY)
    assert "Closed all day: Flooded waiting room" in html
    assert 'data-testid="chair-row"' not in html
    assert 'data-testid="nurse-load"' not in html
    assert 'data-testid="no-sessions-closed"' in html


def test_a_closed_day_draws_only_the_chairs_still_holding_a_live_session(client, web):
    """One of the closed day's sessions cancelled, the others still booked: only the chairs of
    those still booked are drawn."""
    booked = _on(web, MONDAY)
    assert len({a.chair_id for a in booked}) > 1
    _close(web, MONDAY, reason="Flooded waiting room")
    gone = booked[0]
    Appointment.objects.filter(chair_id=gone.chair_id, pk__in=[a.pk for a in booked]).update(
        status=AppointmentStatus.CANCELLED,
        cancellation_reason="Site closed",
        cancelled_at=dt.datetime.combine(MONDAY - dt.timedelta(days=3), dt.time(9), tzinfo=web.clinic.site.zone),
    )
    live_chairs = {a.chair_id for a in booked if a.chair_id != gone.chair_id}
    login(client, web.desk.user)
    html = _board(client, web, MONDAY)
    assert html.count('data-testid="chair-row"') == len(live_chairs)
    assert f'data-chair="{gone.chair.name}"' not in html
    assert 'data-testid="no-sessions-closed"' not in html


def test_a_session_on_a_day_the_site_does_not_open_stays_on_the_board(client, web):
    stray = AppointmentFactory(
        patient=PatientFactory(home_site=web.clinic.site, last_name="Weekend"),
        chair=web.clinic.chairs[1],
        nurse=web.nurse,
        starts_at=dt.datetime.combine(SUNDAY, dt.time(10), tzinfo=web.clinic.site.zone),
    )
    login(client, web.desk.user)
    html = _board(client, web, SUNDAY)
    assert 'data-testid="not-open"' in html
    assert html.count('data-testid="session"') == 1
    assert f'data-chair="{stray.chair.name}"' in html
    assert 'data-testid="nurse-load"' not in html


def test_an_open_day_keeps_its_grid_and_nurse_load(client, web):
    login(client, web.desk.user)
    html = _board(client, web, MONDAY)
    assert html.count('data-testid="chair-row"') == len(web.clinic.chairs)
    assert 'data-testid="nurse-load"' in html
    assert 'data-testid="no-sessions-closed"' not in html


def _legend(html: str) -> str:
    return html.split('data-testid="legend"')[1].split("</p>")[0]


@pytest.mark.parametrize("role", ROLES)
def test_a_closed_day_with_sessions_still_booked_draws_no_shift_bands_and_a_legend_of_what_is_drawn(client, web, role):
    """The nurses' shifts, their hands-on minutes and the nurse load plan a working day: on a closed
    one the board draws only the chairs holding a session to move, and its legend names nothing
    else (no free or preferred gaps, no shifts, no nurse load)."""
    login(client, getattr(web, role).user)
    # The same board on an open day draws all of it (the fixture's nurse is on shift every day).
    open_day = _board(client, web, MONDAY)
    assert 'data-testid="shift-band"' in open_day
    assert 'data-testid="nurse-load"' in open_day
    assert "Nurse load" in _legend(open_day)

    _close(web, MONDAY, reason="Flooded waiting room")
    html = _board(client, web, MONDAY)

    assert 'data-testid="session"' in html
    assert 'data-testid="shift-band"' not in html
    assert 'data-testid="hands-on"' not in html
    assert "Nurse on shift" not in html
    assert 'data-testid="nurse-load"' not in html
    legend = _legend(html)
    assert "closed" in legend
    for undrawn in ("Free", "Preferred", "nurse's shift", "hands-on", "Nurse load"):
        assert undrawn not in legend, undrawn
