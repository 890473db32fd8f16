"""One waiting patient holds offers for two freed chairs and both are accepted at the same moment
(the patient clicks one link while the desk accepts the other on the phone): one is booked, the
other is told the patient is no longer waiting. Neither may end in a database error."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connections

from clinic.errors import DomainError
from scheduling import services
from scheduling.models import Appointment, AppointmentStatus, WaitlistOffer
from scheduling.services.waitlist import waitlist_add, waitlist_offer_accept
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, make_clinic

FREED = [dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC), dt.datetime(2026, 3, 4, 15, tzinfo=dt.UTC)]


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.mark.django_db(transaction=True)
def test_accepting_two_offers_of_one_patient_at_once_books_one_and_refuses_the_other_cleanly():
    clinic = make_clinic()
    desk = clinic.front_desk.user
    freed = [
        services.appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=at,
            chair=clinic.chairs[0],
            actor=desk,
            now=NOW,
        )
        for at in FREED
    ]
    entry = waitlist_add(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        actor=desk,
        now=NOW,
        notify_patient=False,
    )
    for appointment in freed:  # outside a test transaction the cancel commits and its hook makes the offer
        services.appointment_cancel(appointment=appointment, actor=desk, reason="Flu", now=NOW)
    offers = list(WaitlistOffer.objects.filter(entry=entry).order_by("starts_at"))
    assert len(offers) == 2

    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def accept(offer: WaitlistOffer, actor) -> None:
        try:
            barrier.wait()
            waitlist_offer_accept(offer=offer, actor=actor, now=NOW)
            outcomes.append("booked")
        except DomainError as exc:
            outcomes.append(f"refused: {exc.message}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=accept, args=(offers[0], None)),
        threading.Thread(target=accept, args=(offers[1], desk)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    booked = Appointment.objects.filter(patient=entry.patient, status=AppointmentStatus.BOOKED).count()
    assert booked == 1
    assert not errors, [f"{type(e).__name__}: {str(e).splitlines()[0]}" for e in errors]
