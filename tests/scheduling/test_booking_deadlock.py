"""Two bookings whose rows exclude each other, inserted at the same moment, can each wait on the
other in PostgreSQL's exclusion-constraint check, and PostgreSQL aborts one as a deadlock (seen in
test_concurrency's race of twenty bookings of one chair). The loser is told it lost the race, as a
booking conflict, not a server error; any other deadlock or database error stays an error."""

from __future__ import annotations

from types import SimpleNamespace

from django.db import OperationalError

from scheduling.errors import BookingConflict
from scheduling.services.core import translate_deadlock


class _DriverError(Exception):
    """What psycopg2 raises under Django's OperationalError: its SQLSTATE and diagnostics."""

    def __init__(self, pgcode: str, context: str) -> None:
        super().__init__("deadlock detected")
        self.pgcode = pgcode
        self.diag = SimpleNamespace(context=context)


def _operational(pgcode: str, context: str) -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = _DriverError(pgcode, context)
    return error


EXCLUSION = 'while checking exclusion constraint on tuple (0,6) in relation "scheduling_appointment"'


def test_a_deadlock_in_the_appointments_exclusion_check_is_a_lost_race():
    conflict = translate_deadlock(_operational("40P01", EXCLUSION))
    assert isinstance(conflict, BookingConflict)
    assert conflict.details == {"constraint": None, "reason": "taken_concurrently"}
    assert "chair or the patient was just booked by someone else" in conflict.message


def test_other_deadlocks_and_errors_stay_errors():
    assert (
        translate_deadlock(_operational("40P01", 'while updating tuple (0,3) in relation "clinic_staffmember"')) is None
    )
    assert (
        translate_deadlock(
            _operational("40P01", 'while checking exclusion constraint on tuple (0,1) in relation "other"')
        )
        is None
    )
    assert translate_deadlock(_operational("57014", EXCLUSION)) is None  # a cancelled statement
    assert translate_deadlock(OperationalError("no cause")) is None
