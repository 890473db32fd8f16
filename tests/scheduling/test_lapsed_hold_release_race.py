"""A booking over a lapsed hold releases it first (verify_slots -> release_lapsed_holds) and then
books as if its time were free. A hold an EHR's $book holds locked at that moment (its request
came in a second before the hold lapsed) cannot be released: it becomes a booking when that $book
commits. The booking over it is then refused, not made: PostgreSQL's exclusion constraints would
catch a clash of chair or patient, but nothing else holds the nurse's limit (the site's
patients-per-nurse), and the nurse must never have more patients at once than the site allows."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction

from scheduling import services
from scheduling.models import Appointment, AppointmentStatus
from tests.factories import PatientFactory
from tests.scheduling.conftest import make_clinic
from tests.scheduling.holds_support import AT, UNTIL, book

LAPSED = UNTIL + dt.timedelta(seconds=30)


@pytest.mark.django_db(transaction=True)
def test_a_hold_booked_by_the_ehr_while_the_desk_takes_its_time_does_not_overload_the_nurse():
    clinic = make_clinic(max_patients_per_nurse=1, setups_per_nurse=3)
    held = book(clinic, patient=PatientFactory(home_site=clinic.site), hold_until=UNTIL)
    locked = threading.Event()
    desk_done = threading.Event()
    outcome: dict[str, object] = {}

    def ehr_books_the_hold() -> None:
        try:
            with transaction.atomic():
                # $book arrived just before the hold lapsed: its `now` is before UNTIL.
                services.appointment_book_held(
                    appointment=held, actor=clinic.front_desk.user, now=UNTIL - dt.timedelta(seconds=1)
                )
                locked.set()
                desk_done.wait(timeout=10)
            outcome["ehr"] = "booked"
        except Exception as exc:  # pragma: no cover - reported below
            outcome["ehr"] = repr(exc)
        finally:
            locked.set()
            connection.close()

    thread = threading.Thread(target=ehr_books_the_hold)
    thread.start()
    assert locked.wait(timeout=10)
    try:
        book(clinic, now=LAPSED, patient=PatientFactory(home_site=clinic.site), chair=clinic.chairs[1])
        outcome["desk"] = "booked"
    except Exception as exc:
        outcome["desk"] = repr(exc)
    finally:
        desk_done.set()
        thread.join(timeout=20)

    at_once = Appointment.objects.filter(
        nurse=clinic.nurses[0], starts_at=AT, status__in=[AppointmentStatus.BOOKED, AppointmentStatus.HELD]
    ).count()
    assert at_once <= 1, f"the nurse has {at_once} patients at once (limit 1): {outcome}"
