"""On the embedded default (SQLite): the desk records who drives the patient home, a second
time changes nothing, and a cancelled session is refused."""

from __future__ import annotations

import pytest

from tests.sqlite_shell import run_on_sqlite

pytestmark = pytest.mark.django_db

SCENARIO = r"""
import datetime as dt, json
import time_machine
from tests.scheduling.conftest import NOW, make_clinic
time_machine.travel(NOW, tick=False).start()
from clinic.errors import DomainError
from scheduling import services

out = {}
clinic = make_clinic()
plan = clinic.plan()
session = clinic.book(plan, [dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)])[0]
desk = clinic.front_desk.user
out["ride"] = services.appointment_set_ride(appointment=session, ride_home=" Sam ", actor=desk, now=NOW).ride_home
rows = session.history.count()
services.appointment_set_ride(appointment=session, ride_home="Sam", actor=desk, now=NOW)
out["rows_added_again"] = session.history.count() - rows
services.appointment_cancel(appointment=session, actor=desk, reason="Flu", now=NOW)
try:
    services.appointment_set_ride(appointment=session, ride_home="Mum", actor=desk, now=NOW)
    out["cancelled"] = "recorded"
except DomainError as exc:
    out["cancelled"] = exc.code
print("RESULT", json.dumps(out))
"""


def test_a_ride_home_is_recorded_on_sqlite(tmp_path, tmp_path_factory):
    assert run_on_sqlite(tmp_path, tmp_path_factory, SCENARIO) == {
        "ride": "Sam",
        "rows_added_again": 0,
        "cancelled": "invalid_state",
    }
