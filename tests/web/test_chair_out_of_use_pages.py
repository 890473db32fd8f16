"""A chair out of use for a while (a closure naming the chair) on the desk's pages: the board marks
the period in that chair's row and lists it apart from the site's closures (the site stays open),
offers no free time in it, marks the sessions already in it to move, and the "To move" page and the
API list them; the week page and the API's day board say so too."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from clinic.models import Closure
from tests.web.conftest import login
from web.board_grid import build_grid

pytestmark = pytest.mark.django_db
MONDAY = dt.date(2026, 3, 2)  # the first day of both courses (tests/web/conftest.py)
NEW_YORK = ZoneInfo("America/New_York")


def _pump_broken_on_monday(chair) -> Closure:
    zone = chair.site.zone
    return Closure.objects.create(
        site=chair.site,
        chair=chair,
        reason="IV pump broken",
        starts_at=dt.datetime.combine(MONDAY, dt.time(0), tzinfo=zone),
        ends_at=dt.datetime.combine(MONDAY + dt.timedelta(days=1), dt.time(0), tzinfo=zone),
    )


def _chair_rows(html: str) -> dict[str, str]:
    rows = {}
    for part in html.split('data-testid="chair-row"')[1:]:
        name = part.split('data-chair="')[1].split('"')[0]
        rows[name] = part.split("</section>")[0]
    return rows


def _monday_sessions(web):
    zone = web.clinic.site.zone
    return [a for a in (*web.sessions_a, *web.sessions_b) if a.starts_at.astimezone(zone).date() == MONDAY]


def test_the_board_marks_the_chair_out_of_use_in_its_own_row_and_the_site_stays_open(client, web):
    chair, *others = web.clinic.chairs
    login(client, web.desk.user)
    before = _chair_rows(client.get(reverse("web:board"), {"day": MONDAY.isoformat()}).content.decode())
    _pump_broken_on_monday(chair)
    board = client.get(reverse("web:board"), {"day": MONDAY.isoformat()}).content.decode()
    rows = _chair_rows(board)
    assert 'data-testid="out-of-use"' in rows[chair.name] and "IV pump broken" in rows[chair.name]
    assert 'data-testid="free-gap"' not in rows[chair.name]
    for other in others:
        assert 'data-testid="out-of-use"' not in rows[other.name]
        assert rows[other.name].count('data-testid="free-gap"') == before[other.name].count('data-testid="free-gap"')
    # Listed as a chair out of use, not as the site closed.
    assert 'data-testid="chair-out-of-use"' in board and f"{chair.name} all day: IV pump broken" in board
    assert 'data-testid="closure"' not in board and 'data-testid="closure-band"' not in board
    # The sessions already in it are marked to move; the others still fit.
    in_chair = [a for a in _monday_sessions(web) if a.chair_id == chair.pk]
    assert in_chair, "the fixture books Monday sessions in the first chair"
    assert board.count('data-testid="no-longer-fits"') == len(in_chair)
    assert f"the chair is out of use ({chair.name}: IV pump broken)" in board


def test_the_to_move_page_and_api_list_the_sessions_in_the_chair(client, web):
    chair = web.clinic.chairs[0]
    _pump_broken_on_monday(chair)
    in_chair = sorted((a for a in _monday_sessions(web) if a.chair_id == chair.pk), key=lambda a: (a.starts_at, a.pk))
    login(client, web.desk.user)
    page = client.get(reverse("web:to-move"), {"site": web.clinic.site.pk}).content.decode()
    rows = page.split('data-testid="sessions-to-move"')[1].split("</table>")[0]
    assert rows.count("<tr>") - 1 == len(in_chair)
    for session in in_chair:
        assert reverse("web:move-session", args=[session.pk]) in rows
    assert f"The chair is out of use ({chair.name}: IV pump broken)" in rows

    body = client.get(reverse("v1:site-sessions-to-move", args=[web.clinic.site.pk])).json()
    assert [entry["session"]["id"] for entry in body["sessions"]] == [a.pk for a in in_chair]
    assert {entry["reason"] for entry in body["sessions"]} == {"chair_out_of_use"}


def test_the_week_page_and_the_api_day_board_name_the_chair_out_of_use(client, web):
    chair = web.clinic.chairs[0]
    _pump_broken_on_monday(chair)
    login(client, web.desk.user)
    week = client.get(reverse("web:week"), {"day": MONDAY.isoformat()}).content.decode()
    assert 'data-testid="chair-out-of-use"' in week and f"{chair.name} out of use" in week
    assert 'data-testid="closure"' not in week
    board = client.get(reverse("v1:site-day-board", args=[web.clinic.site.pk]), {"date": MONDAY.isoformat()}).json()
    periods = {c["name"]: c["out_of_use"] for c in board["chairs"]}
    assert [p["reason"] for p in periods[chair.name]] == ["IV pump broken"]
    assert all(not found for name, found in periods.items() if name != chair.name)


def test_the_print_sheet_names_the_chair_out_of_use_as_the_board_does(client, web):
    chair = web.clinic.chairs[0]
    _pump_broken_on_monday(chair)
    login(client, web.desk.user)
    sheet = client.get(reverse("web:board"), {"day": MONDAY.isoformat(), "print": "1"}).content.decode()
    assert f"{chair.name} all day: IV pump broken" in sheet


def test_the_grid_draws_a_chairs_closure_in_its_lane_and_the_sites_as_a_band():
    day = MONDAY
    at = lambda hour: dt.datetime.combine(day, dt.time(hour), tzinfo=NEW_YORK)  # noqa: E731
    chair_closed = SimpleNamespace(chair_id=2, starts_at=at(9), ends_at=at(12), reason="Pump")
    site_closed = SimpleNamespace(chair_id=None, starts_at=at(16), ends_at=at(18), reason="Training")
    grid = build_grid(
        day=day,
        zone=NEW_YORK,
        opening=(dt.time(8), dt.time(18)),
        chairs=[SimpleNamespace(pk=1, active=True), SimpleNamespace(pk=2, active=True)],
        sessions=[],
        closures=[chair_closed, site_closed],
        shifts=[],
        now=at(7),
        free_starts={},
        gap_minutes={1: 60, 2: 60},
        step_minutes=15,
        max_patients_per_nurse=3,
    )
    first, second = grid.lanes
    assert [item.kind for item in first.items] == []
    assert [(item.kind, item.start, item.end, item.obj) for item in second.items] == [
        ("out_of_use", 9 * 60, 12 * 60, chair_closed)
    ]
    assert [band.obj for band in grid.bands] == [site_closed]
