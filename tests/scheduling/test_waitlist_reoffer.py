"""A freed chair goes on being offered while it is free: once every offer of it has closed (the
patients taken off the waitlist, or booked from another offer), the sweep offers it to the next
waiting patients it suits, never to an entry twice and never more than MAX_OFFERS_PER_FREED_SESSION
open offers at once. And one patient holds one open offer of a chair and time: when the same chair
and time are freed again (the desk filled it, and that session was cancelled too), the patient's
first offer stands and no second offer or message is made."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connections

from scheduling import services
from scheduling.models import Appointment, AppointmentStatus, WaitlistOffer, WaitlistOfferStatus
from scheduling.services.waitlist import (
    MAX_OFFERS_PER_FREED_SESSION,
    SWEEP_LOOKBACK,
    waitlist_add,
    waitlist_offer_accept,
    waitlist_offer_freed_slot,
    waitlist_offers_sweep,
    waitlist_remove,
)
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, make_clinic
from tests.scheduling.test_waitlist import FREED_AT, _single, _waiting

# Wednesday 4 March 2026, 10:00 in New York: another chair freed, the day after FREED_AT.
OTHER_FREED_AT = dt.datetime(2026, 3, 4, 15, tzinfo=dt.UTC)


@pytest.fixture
def _clock_at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def _cancel(clinic, appointment, *, now=NOW):
    services.appointment_cancel(appointment=appointment, actor=clinic.front_desk.user, reason="Flu", now=now)


def _open_offers(freed):
    return list(
        WaitlistOffer.objects.filter(freed=freed, status=WaitlistOfferStatus.OPEN)
        .order_by("pk")
        .values_list("entry_id", flat=True)
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("_clock_at_now")
def test_once_every_offered_patient_left_the_waitlist_the_sweep_offers_the_free_chair_to_the_next(clinic):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    entries = [_waiting(clinic, notify_patient=False) for _ in range(MAX_OFFERS_PER_FREED_SESSION + 2)]
    _cancel(clinic, freed)
    first_round = [offer.entry_id for offer in waitlist_offer_freed_slot(appointment_id=freed.pk, now=NOW)]
    assert first_round == [e.pk for e in entries[:MAX_OFFERS_PER_FREED_SESSION]]
    # While one offer is open, the sweep leaves the chair to it.
    for entry in entries[: MAX_OFFERS_PER_FREED_SESSION - 1]:
        waitlist_remove(entry=entry, actor=clinic.front_desk.user, reason="Declined on the phone")
    assert waitlist_offers_sweep(now=NOW) == 0
    waitlist_remove(entry=entries[MAX_OFFERS_PER_FREED_SESSION - 1], actor=clinic.front_desk.user, reason="Declined")

    assert waitlist_offers_sweep(now=NOW) == 2
    assert _open_offers(freed) == [e.pk for e in entries[MAX_OFFERS_PER_FREED_SESSION:]]
    assert waitlist_offers_sweep(now=NOW) == 0  # the next sweep finds the new offers open
    assert WaitlistOffer.objects.filter(freed=freed).count() == MAX_OFFERS_PER_FREED_SESSION + 2

    # Booked from the desk meanwhile, the chair is offered to no one more once these two leave too.
    _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT, chair=freed.chair)
    latecomer = _waiting(clinic, notify_patient=False)
    for entry in entries[MAX_OFFERS_PER_FREED_SESSION:]:
        waitlist_remove(entry=entry, actor=clinic.front_desk.user, reason="Declined")
    assert waitlist_offers_sweep(now=NOW) == 0
    assert not WaitlistOffer.objects.filter(entry=latecomer).exists()


@pytest.mark.django_db
def test_a_chair_cancelled_days_ago_is_offered_again_when_its_offers_close_now(clinic):
    """The sweep's look-back counts from when the last offer closed, not from the cancel."""
    with time_machine.travel(NOW, tick=False):
        freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT + dt.timedelta(days=7))
        offered, next_in_line = _waiting(clinic, notify_patient=False), _waiting(clinic, notify_patient=False)
        _cancel(clinic, freed)
        waitlist_offer_freed_slot(appointment_id=freed.pk, now=NOW)
        assert _open_offers(freed) == [offered.pk, next_in_line.pk]
    later = NOW + SWEEP_LOOKBACK + dt.timedelta(days=1)
    with time_machine.travel(later, tick=False):
        waitlist_remove(entry=offered, actor=clinic.front_desk.user, reason="Moved away")
        waitlist_remove(entry=next_in_line, actor=clinic.front_desk.user, reason="Moved away")
        newcomer = _waiting(clinic, earliest=dt.date(2026, 3, 5), notify_patient=False)
        assert waitlist_offers_sweep(now=later) == 1
    assert _open_offers(freed) == [newcomer.pk]


@pytest.mark.django_db
@pytest.mark.usefixtures("_clock_at_now")
def test_a_patient_booked_from_another_offer_frees_their_place_for_the_next_patient(clinic):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    other = _single(clinic, PatientFactory(home_site=clinic.site), OTHER_FREED_AT, chair=clinic.chairs[1])
    booked_elsewhere = _waiting(clinic, notify_patient=False)
    _cancel(clinic, freed)
    _cancel(clinic, other)
    waitlist_offer_freed_slot(appointment_id=freed.pk, now=NOW)
    waitlist_offer_freed_slot(appointment_id=other.pk, now=NOW)
    next_in_line = _waiting(clinic, notify_patient=False)
    waitlist_offer_accept(
        offer=WaitlistOffer.objects.get(freed=other, entry=booked_elsewhere), actor=clinic.front_desk.user, now=NOW
    )
    assert _open_offers(freed) == []
    assert waitlist_offers_sweep(now=NOW) == 1
    assert _open_offers(freed) == [next_in_line.pk]


@pytest.mark.django_db
@pytest.mark.usefixtures("_clock_at_now")
def test_a_patient_is_not_offered_the_same_chair_and_time_twice_when_it_is_freed_again(clinic):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    entry = _waiting(clinic)
    _cancel(clinic, freed)
    waitlist_offer_freed_slot(appointment_id=freed.pk, now=NOW)
    assert len(mail.outbox) == 1
    # The desk fills the chair from the phone, then that patient cancels too.
    again = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT, chair=freed.chair)
    _cancel(clinic, again)
    assert waitlist_offer_freed_slot(appointment_id=again.pk, now=NOW) == []
    assert len(mail.outbox) == 1, "the patient was messaged a second link for the very same chair and time"
    assert list(
        WaitlistOffer.objects.filter(entry=entry, status=WaitlistOfferStatus.OPEN).values_list("freed_id", flat=True)
    ) == [freed.pk]


@pytest.mark.django_db
@pytest.mark.usefixtures("_clock_at_now")
def test_a_chair_and_time_freed_twice_holds_no_more_open_offers_than_one_freed_session(clinic):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    entries = [_waiting(clinic, notify_patient=False) for _ in range(MAX_OFFERS_PER_FREED_SESSION + 2)]
    _cancel(clinic, freed)
    waitlist_offer_freed_slot(appointment_id=freed.pk, now=NOW)
    waitlist_remove(entry=entries[0], actor=clinic.front_desk.user, reason="Declined")
    again = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT, chair=freed.chair)
    _cancel(clinic, again)
    # Four offers of the first cancel are still open for this chair and time: one place is left.
    assert [o.entry_id for o in waitlist_offer_freed_slot(appointment_id=again.pk, now=NOW)] == [
        entries[MAX_OFFERS_PER_FREED_SESSION].pk
    ]
    open_here = WaitlistOffer.objects.filter(
        chair=freed.chair, starts_at=FREED_AT, status=WaitlistOfferStatus.OPEN, entry__in=entries
    )
    assert open_here.count() == MAX_OFFERS_PER_FREED_SESSION


@pytest.mark.django_db(transaction=True)
def test_offering_a_chair_and_time_freed_twice_from_two_runs_at_once_offers_the_patient_once():
    """The offer task of each cancel (or the sweep) running at the same moment: one waits for the
    other, so the waiting patient gets one offer of that chair and time, not one from each run."""
    with time_machine.travel(NOW, tick=True):
        clinic = make_clinic()
        desk = clinic.front_desk.user
        freed = []
        for _ in range(2):  # cancelled while no one waits: no offer yet
            booked = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
            services.appointment_cancel(appointment=booked, actor=desk, reason="Flu", now=NOW)
            freed.append(booked)
        entry = waitlist_add(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            earliest_date=dt.date(2026, 3, 2),
            actor=desk,
            now=NOW,
            notify_patient=False,
        )

        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def offer(appointment: Appointment) -> None:
            try:
                barrier.wait()
                waitlist_offer_freed_slot(appointment_id=appointment.pk, now=NOW)
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=offer, args=(appointment,)) for appointment in reversed(freed)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, [f"{type(e).__name__}: {str(e).splitlines()[0]}" for e in errors]
    assert WaitlistOffer.objects.filter(entry=entry, status=WaitlistOfferStatus.OPEN).count() == 1
    assert Appointment.objects.filter(pk__in=[a.pk for a in freed], status=AppointmentStatus.CANCELLED).count() == 2
