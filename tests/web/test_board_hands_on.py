"""The day board marks each nurse's hands-on minutes (setup, checks, discharge) on their
shift band: the grid data in plain Python, and the page."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.urls import reverse

from scheduling.engine.model import NurseWork
from tests.web.conftest import START, login
from web.board_grid import build_grid

NEW_YORK = ZoneInfo("America/New_York")
DAY = dt.date(2026, 3, 4)


def _local(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute), tzinfo=NEW_YORK)


def _grid(hands_on):
    shift = SimpleNamespace(staff_id=7, starts_at=_local(7, 30), ends_at=_local(18, 30))
    other = SimpleNamespace(staff_id=8, starts_at=_local(7, 30), ends_at=_local(18, 30))
    return build_grid(
        day=DAY,
        zone=NEW_YORK,
        opening=(dt.time(8), dt.time(18)),
        chairs=[SimpleNamespace(pk=1, active=True)],
        sessions=[],
        closures=[],
        shifts=[shift, other],
        now=_local(6),
        free_starts={},
        gap_minutes={1: 90},
        step_minutes=15,
        max_patients_per_nurse=3,
        hands_on=hands_on,
    )


def test_a_nurses_hands_on_intervals_are_marked_on_her_own_shift_band_at_their_wall_clock_times():
    work = NurseWork(setup_minutes=20, check_offsets_minutes=(40,), check_minutes=5, discharge_minutes=10)
    session = work.hands_on(_local(10), _local(12))
    grid = _grid({7: [(s.start, s.end) for s in session]})
    hers, others = grid.bands
    marks = [item for item in hers.items if item.kind == "hands"]
    # The axis starts at 08:00 in five-minute columns: 10:00 is column 25.
    assert [(m.column, m.width) for m in marks] == [(25, 4), (33, 1), (47, 2)]
    assert [m.starts_at.strftime("%H:%M") for m in marks] == ["10:00", "10:40", "11:50"]
    assert hers.items[0].kind == "shift"
    assert not [item for item in others.items if item.kind == "hands"]


def test_hands_on_minutes_outside_a_shift_are_not_drawn_on_it():
    grid = _grid({7: [(_local(19), _local(19, 20))]})
    assert [item.kind for item in grid.bands[0].items] == ["shift"]


def test_the_board_page_marks_the_nurses_hands_on_minutes(client, web):
    login(client, web.desk.user)
    response = client.get(reverse("web:board"), {"day": START.isoformat()})
    html = response.content.decode()
    booked = [a for a in web.sessions_a + web.sessions_b if a.starts_at.astimezone(NEW_YORK).date() == START]
    # Setup, one check and discharge for each session that day (the protocol's defaults).
    assert html.count('data-testid="hands-on"') == 3 * len(booked) > 0
    assert "hands-on minutes" in html
