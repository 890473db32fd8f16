"""The waitlist on PostgreSQL: a cancelled session's chair is offered, after the
cancel commits, to the waiting patients it suits; the first to accept gets it
through the booking services, later accepters are told it is taken."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connections

from scheduling import services
from scheduling.errors import InvalidInput, InvalidState
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    PlanStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOfferStatus,
    WaitlistStatus,
)
from scheduling.services.waitlist import (
    OfferTaken,
    make_accept_token,
    offer_from_token,
    waitlist_add,
    waitlist_offer_accept,
    waitlist_offer_freed_slot,
    waitlist_remove,
)
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, make_clinic


@pytest.fixture(autouse=True)
def _clock_at_now():
    """The services here are given `now` = NOW, and the cancel's offer task works at the later of the
    cancel's instant and the clock: the clock stands at NOW too (ticking, for the threaded tests)."""
    with time_machine.travel(NOW, tick=True):
        yield


NY = ZoneInfo("America/New_York")
# Tuesday 3 March 2026, 10:00 in New York.
FREED_AT = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)


def _single(clinic, patient, starts_at, chair=None):
    return services.appointment_book(
        patient=patient,
        site=clinic.site,
        starts_at=starts_at,
        chair=chair or clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )


def _waiting(clinic, *, earliest=dt.date(2026, 3, 2), latest=None, **kwargs):
    patient = kwargs.pop("patient", None) or PatientFactory(home_site=clinic.site, reminder_consent=True)
    return waitlist_add(
        patient=patient,
        site=clinic.site,
        earliest_date=earliest,
        latest_date=latest,
        actor=clinic.front_desk.user,
        now=NOW,
        **kwargs,
    )


def _cancel(clinic, appointment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=appointment, actor=clinic.front_desk.user, reason="Flu", now=NOW)


@pytest.mark.django_db
def test_cancelling_a_session_offers_its_chair_to_waiting_patients_once_the_cancel_commits(
    clinic, django_capture_on_commit_callbacks
):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    first = _waiting(clinic)
    second = _waiting(clinic, notify_patient=False)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    # Nothing is offered inside the cancel's transaction.
    assert not WaitlistOffer.objects.exists()
    assert len(callbacks) == 1
    callbacks[0]()
    offers = list(WaitlistOffer.objects.order_by("entry__created_at"))
    assert [o.entry_id for o in offers] == [first.pk, second.pk]
    assert all(o.starts_at == FREED_AT and o.chair_id == freed.chair_id for o in offers)
    assert all(o.status == WaitlistOfferStatus.OPEN for o in offers)
    # Only the patient who asked to be messaged gets a link.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [first.patient.email]
    assert "/w/" in mail.outbox[0].body
    assert "first to accept gets it" in mail.outbox[0].body
    # Whether anyone else was told is not the patient's to know for sure (one of two here is messaged).
    assert "may have been offered to other patients" in mail.outbox[0].body


@pytest.mark.django_db
def test_offering_the_same_freed_session_twice_makes_no_second_offer(clinic, django_capture_on_commit_callbacks):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    _waiting(clinic)
    _cancel(clinic, freed, django_capture_on_commit_callbacks)
    assert waitlist_offer_freed_slot(appointment_id=freed.pk, now=NOW) == []
    assert WaitlistOffer.objects.count() == 1


@pytest.mark.django_db
def test_patients_whose_dates_diary_or_plan_rules_do_not_fit_are_not_offered_the_chair(
    clinic, django_capture_on_commit_callbacks
):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    too_late = _waiting(clinic, earliest=dt.date(2026, 3, 4))
    too_early = _waiting(clinic, earliest=dt.date(2026, 3, 2), latest=dt.date(2026, 3, 2))
    busy = _waiting(clinic)
    _single(clinic, busy.patient, FREED_AT + dt.timedelta(hours=1), chair=clinic.chairs[1])
    # An induction session the day before: the protocol wants 48 hours between sessions.
    ruled_out_plan = clinic.plan(start_date=dt.date(2026, 3, 2))
    services.appointment_book(
        patient=ruled_out_plan.patient,
        plan=ruled_out_plan,
        site=clinic.site,
        starts_at=FREED_AT - dt.timedelta(days=1),
        chair=clinic.chairs[2],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    ruled_out = _waiting(clinic, patient=ruled_out_plan.patient)
    fits = _waiting(clinic)
    _cancel(clinic, freed, django_capture_on_commit_callbacks)
    offered = set(WaitlistOffer.objects.values_list("entry_id", flat=True))
    assert offered == {fits.pk}
    assert not offered & {too_late.pk, too_early.pk, busy.pk, ruled_out.pk}


@pytest.mark.django_db
def test_a_freed_session_in_the_past_offers_nothing(clinic):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    _waiting(clinic)
    services.appointment_cancel(appointment=freed, actor=None, reason="Flu", now=NOW)
    assert waitlist_offer_freed_slot(appointment_id=freed.pk, now=FREED_AT + dt.timedelta(minutes=1)) == []


@pytest.mark.django_db
def test_no_offer_when_the_chair_was_booked_again_before_the_offer_ran(clinic):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    _waiting(clinic)
    services.appointment_cancel(appointment=freed, actor=None, reason="Flu", now=NOW)
    _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT, chair=clinic.chairs[0])
    assert waitlist_offer_freed_slot(appointment_id=freed.pk, now=NOW) == []


@pytest.mark.django_db
def test_first_to_accept_gets_the_chair_and_a_later_accepter_is_told_it_is_taken(
    clinic, django_capture_on_commit_callbacks
):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    plan = clinic.plan(start_date=dt.date(2026, 3, 2))
    winner = _waiting(clinic, patient=plan.patient)
    loser = _waiting(clinic)
    _cancel(clinic, freed, django_capture_on_commit_callbacks)
    offer_w = WaitlistOffer.objects.get(entry=winner)
    offer_l = WaitlistOffer.objects.get(entry=loser)

    booked = waitlist_offer_accept(offer=offer_w, actor=None, now=NOW)

    assert booked.patient_id == plan.patient_id
    assert booked.chair_id == freed.chair_id and booked.starts_at == FREED_AT
    assert booked.plan_id == plan.pk and booked.status == AppointmentStatus.BOOKED
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    offer_w.refresh_from_db()
    offer_l.refresh_from_db()
    assert (offer_w.status, offer_w.booked_id) == (WaitlistOfferStatus.ACCEPTED, booked.pk)
    assert offer_l.status == WaitlistOfferStatus.TAKEN
    winner.refresh_from_db()
    loser.refresh_from_db()
    assert winner.status == WaitlistStatus.BOOKED
    assert loser.status == WaitlistStatus.WAITING
    assert winner.history.first().history_change_reason.startswith("Booked from the waitlist")

    with pytest.raises(OfferTaken, match="another patient accepted this session first"):
        waitlist_offer_accept(offer=offer_l, actor=None, now=NOW)
    assert not Appointment.objects.filter(patient=loser.patient).exists()
    # Accepting again is harmless.
    assert waitlist_offer_accept(offer=offer_w, actor=None, now=NOW).pk == booked.pk


@pytest.mark.django_db
def test_accepting_brings_the_patients_later_session_forward_instead_of_adding_one(
    clinic, django_capture_on_commit_callbacks
):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    patient = PatientFactory(home_site=clinic.site)
    later = _single(clinic, patient, dt.datetime(2026, 3, 20, 14, tzinfo=dt.UTC), chair=clinic.chairs[1])
    entry = _waiting(clinic, patient=patient, replaces=later)
    _cancel(clinic, freed, django_capture_on_commit_callbacks)
    booked = waitlist_offer_accept(offer=WaitlistOffer.objects.get(entry=entry), actor=clinic.front_desk.user, now=NOW)
    assert booked.pk == later.pk
    later.refresh_from_db()
    assert (later.starts_at, later.chair_id) == (FREED_AT, freed.chair_id)
    assert Appointment.objects.filter(patient=patient).count() == 1


@pytest.mark.django_db
def test_an_offer_whose_chair_was_booked_from_the_desk_meanwhile_cannot_be_accepted(
    clinic, django_capture_on_commit_callbacks
):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    entry = _waiting(clinic)
    _cancel(clinic, freed, django_capture_on_commit_callbacks)
    _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT, chair=clinic.chairs[0])
    offer = WaitlistOffer.objects.get(entry=entry)
    with pytest.raises(OfferTaken, match="can no longer be booked"):
        waitlist_offer_accept(offer=offer, actor=None, now=NOW)
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert offer.status == WaitlistOfferStatus.OPEN
    assert entry.status == WaitlistStatus.WAITING


@pytest.mark.django_db
def test_the_accept_link_is_signed_and_names_its_offer(clinic, django_capture_on_commit_callbacks):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    entry = _waiting(clinic)
    _cancel(clinic, freed, django_capture_on_commit_callbacks)
    offer = WaitlistOffer.objects.get(entry=entry)
    token = make_accept_token(offer)
    assert offer_from_token(token=token).pk == offer.pk
    from scheduling.services.waitlist import InvalidOfferLink

    with pytest.raises(InvalidOfferLink):
        offer_from_token(token=token[:-2] + "xx")


@pytest.mark.django_db
def test_adding_refuses_a_second_waiting_entry_past_dates_and_another_patients_session(clinic):
    entry = _waiting(clinic)
    with pytest.raises(InvalidState, match="already on the waitlist"):
        _waiting(clinic, patient=entry.patient)
    with pytest.raises(InvalidInput, match="past"):
        _waiting(clinic, earliest=dt.date(2026, 2, 1))
    with pytest.raises(InvalidInput, match="on or after"):
        _waiting(clinic, earliest=dt.date(2026, 3, 10), latest=dt.date(2026, 3, 9))
    other = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    with pytest.raises(InvalidInput, match="another patient"):
        _waiting(clinic, replaces=other)
    waitlist_remove(entry=entry, actor=clinic.front_desk.user, reason="Found another clinic")
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.REMOVED
    assert entry.history.first().history_change_reason == "Removed from the waitlist: Found another clinic"
    # Off the list, they may be added again.
    assert _waiting(clinic, patient=entry.patient).status == WaitlistStatus.WAITING


@pytest.mark.django_db(transaction=True)
def test_two_patients_accepting_at_the_same_moment_get_one_booking():
    clinic = make_clinic()
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    entries = [_waiting(clinic) for _ in range(4)]
    # Outside a test transaction the cancel really commits, and its on-commit hook makes the offers.
    services.appointment_cancel(appointment=freed, actor=None, reason="Flu", now=NOW)
    offers = list(WaitlistOffer.objects.filter(freed=freed))
    assert len(offers) == len(entries)
    barrier = threading.Barrier(len(offers))
    wins: list[int] = []
    taken: list[str] = []
    errors: list[BaseException] = []

    def accept(offer: WaitlistOffer) -> None:
        try:
            barrier.wait()
            waitlist_offer_accept(offer=offer, actor=None, now=NOW)
            wins.append(offer.pk)
        except OfferTaken as exc:
            taken.append(exc.message)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(offer,)) for offer in offers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(wins) == 1
    assert len(taken) == len(offers) - 1
    assert (
        Appointment.objects.filter(starts_at=FREED_AT, chair=freed.chair, status=AppointmentStatus.BOOKED).count() == 1
    )
    assert WaitlistOffer.objects.filter(status=WaitlistOfferStatus.ACCEPTED).count() == 1
    assert WaitlistEntry.objects.filter(status=WaitlistStatus.BOOKED).count() == 1
