"""Offers accepted at the same moment end in one booking and a clean refusal, never a database
error: one waiting patient's offers of two freed chairs (the patient clicks one link while the
desk accepts the other on the phone: the other is told the patient is no longer waiting), and two
patients' offers of one chair and time freed twice (cancelled, filled from the desk, cancelled
again: each cancel has its own offers, so the booking's constraints decide)."""

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


def _accept_at_once(offers_and_actors) -> tuple[list[str], list[BaseException]]:
    """Each (offer, actor) accepted in its own thread, all released at once: what each answered
    ("booked" or "refused: ...") and any other error raised."""
    barrier = threading.Barrier(len(offers_and_actors))
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

    threads = [threading.Thread(target=accept, args=pair) for pair in offers_and_actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes, errors


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

    _, errors = _accept_at_once([(offers[0], None), (offers[1], desk)])
    booked = Appointment.objects.filter(patient=entry.patient, status=AppointmentStatus.BOOKED).count()
    assert booked == 1
    assert not errors, [f"{type(e).__name__}: {str(e).splitlines()[0]}" for e in errors]


@pytest.mark.django_db(transaction=True)
def test_two_patients_accepting_offers_of_one_chair_and_time_freed_twice_get_one_booking_and_a_clean_refusal():
    clinic = make_clinic(nurses=2)
    desk = clinic.front_desk.user

    def book() -> Appointment:
        return services.appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=FREED[0],
            chair=clinic.chairs[0],
            actor=desk,
            now=NOW,
        )

    def wait():
        return waitlist_add(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            earliest_date=dt.date(2026, 3, 2),
            actor=desk,
            now=NOW,
            notify_patient=False,
        )

    first = book()
    one = wait()
    services.appointment_cancel(appointment=first, actor=desk, reason="Flu", now=NOW)  # offered on commit
    second = book()
    two = wait()
    services.appointment_cancel(appointment=second, actor=desk, reason="Flu", now=NOW)
    offers = [WaitlistOffer.objects.get(entry=one, freed=first), WaitlistOffer.objects.get(entry=two, freed=second)]

    outcomes, errors = _accept_at_once([(offer, None) for offer in offers])
    assert not errors, [f"{type(e).__name__}: {str(e).splitlines()[0]}" for e in errors]
    assert sorted(outcome.split(":")[0] for outcome in outcomes) == ["booked", "refused"], outcomes
    booked = Appointment.objects.filter(chair=clinic.chairs[0], starts_at=FREED[0], status=AppointmentStatus.BOOKED)
    assert booked.count() == 1


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_session_while_an_accept_holds_the_entry_bringing_it_forward_neither_waits_nor_deadlocks():
    """The accept locks the waiting entry and then the session it brings forward; the cancel locks the
    session and then (to take the entry off the waitlist) the entry. The cancel does not wait for an
    entry an accept holds, so the two never deadlock: the accept then finds the session cancelled,
    and the waitlist's sweep takes the entry off the waitlist afterwards."""
    from django.db import transaction

    from scheduling.models import WaitlistEntry, WaitlistStatus
    from scheduling.services.waitlist import waitlist_offers_sweep

    clinic = make_clinic()
    desk = clinic.front_desk.user
    patient = PatientFactory(home_site=clinic.site)
    later = services.appointment_book(
        patient=patient, site=clinic.site, starts_at=FREED[1], chair=clinic.chairs[1], actor=desk, now=NOW
    )
    entry = waitlist_add(
        patient=patient, site=clinic.site, earliest_date=dt.date(2026, 3, 2), replaces=later, actor=desk, now=NOW
    )
    held, cancelled = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def accept_in_progress() -> None:
        try:
            with transaction.atomic():
                WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
                held.set()
                cancelled.wait(timeout=30)
                # The accept's next step: the session it would bring forward, now cancelled.
                session = Appointment.objects.select_for_update().get(pk=later.pk)
                assert session.status == AppointmentStatus.CANCELLED
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=accept_in_progress)
    thread.start()
    assert held.wait(timeout=30)
    try:
        services.appointment_cancel(appointment=later, actor=desk, reason="Moving away", now=NOW)
    finally:
        cancelled.set()
        thread.join(timeout=60)
    assert errors == []
    assert WaitlistEntry.objects.get(pk=entry.pk).status == WaitlistStatus.WAITING  # skipped, not waited for

    waitlist_offers_sweep(now=NOW)
    assert WaitlistEntry.objects.get(pk=entry.pk).status == WaitlistStatus.REMOVED
