"""An entry that brings a later session forward must never push that session later: if the desk has
already moved it before the freed time, accepting the old offer must not move it back."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduling import services
from scheduling.errors import InvalidInput, InvalidState
from scheduling.models import WaitlistEntry, WaitlistOffer, WaitlistOfferStatus, WaitlistStatus
from scheduling.services.waitlist import waitlist_add, waitlist_offer_accept, waitlist_offers_sweep
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

FREED_AT = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)  # Tue 3 March, 10:00 New York
LATER = dt.datetime(2026, 3, 20, 14, tzinfo=dt.UTC)  # Fri 20 March, 10:00 New York
EARLIER = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)  # Mon 2 March, 10:00 New York


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=True):
        yield


def test_accepting_an_old_offer_does_not_move_a_session_that_is_already_earlier_to_a_later_time(
    clinic, django_capture_on_commit_callbacks
):
    desk = clinic.front_desk.user
    freed = services.appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=FREED_AT,
        chair=clinic.chairs[0],
        actor=desk,
        now=NOW,
    )
    patient = PatientFactory(home_site=clinic.site)
    later = services.appointment_book(
        patient=patient, site=clinic.site, starts_at=LATER, chair=clinic.chairs[1], actor=desk, now=NOW
    )
    entry = waitlist_add(
        patient=patient, site=clinic.site, earliest_date=dt.date(2026, 3, 2), replaces=later, actor=desk, now=NOW
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=freed, actor=desk, reason="Flu", now=NOW)
    offer = WaitlistOffer.objects.get(entry=entry)
    # Meanwhile the patient phoned and the desk found them an even earlier time.
    services.appointment_move(appointment=later, starts_at=EARLIER, chair=clinic.chairs[1], actor=desk, now=NOW)

    with pytest.raises(InvalidState, match="already on Mon 2 Mar 2026 10:00; nothing was changed"):
        waitlist_offer_accept(offer=offer, actor=None, now=NOW)
    later.refresh_from_db()
    assert later.starts_at == EARLIER, (
        f"'bring forward' moved the session from Mon 2 Mar to {later.starts_at:%a %-d %b} (later)"
    )


@pytest.mark.parametrize("earliest", [dt.date(2026, 3, 20), dt.date(2026, 3, 25)])
def test_the_waitlist_refuses_to_bring_forward_a_session_to_its_own_day_or_later(clinic, earliest):
    """Asked to "bring forward this session" (Fri 20 Mar) with an earliest day on or after it: no freed chair
    can ever suit the entry (`_suits` wants one before the session it replaces, `waitlist_matches`
    one on or after the earliest day), yet the entry would keep the patient waiting, and off the
    site's waitlist ("already on the waitlist")."""
    desk = clinic.front_desk.user
    patient = PatientFactory(home_site=clinic.site)
    later = services.appointment_book(
        patient=patient, site=clinic.site, starts_at=LATER, chair=clinic.chairs[1], actor=desk, now=NOW
    )
    with pytest.raises(InvalidInput, match="the earliest date must be before that day") as refused:
        waitlist_add(patient=patient, site=clinic.site, earliest_date=earliest, replaces=later, actor=desk, now=NOW)
    assert refused.value.details == {"field": "earliest_date"}
    assert not WaitlistEntry.objects.filter(patient=patient).exists()
    # The day before the session is a window that can still be offered something.
    waitlist_add(
        patient=patient, site=clinic.site, earliest_date=dt.date(2026, 3, 19), replaces=later, actor=desk, now=NOW
    )


def _waiting_to_bring_forward(clinic, capture):
    """A patient waits to bring Fri 20 Mar forward and is offered the chair freed on Tue 3 Mar."""
    desk = clinic.front_desk.user
    freed = services.appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=FREED_AT,
        chair=clinic.chairs[0],
        actor=desk,
        now=NOW,
    )
    patient = PatientFactory(home_site=clinic.site)
    later = services.appointment_book(
        patient=patient, site=clinic.site, starts_at=LATER, chair=clinic.chairs[1], actor=desk, now=NOW
    )
    entry = waitlist_add(
        patient=patient, site=clinic.site, earliest_date=dt.date(2026, 3, 2), replaces=later, actor=desk, now=NOW
    )
    with capture(execute=True):
        services.appointment_cancel(appointment=freed, actor=desk, reason="Flu", now=NOW)
    offer = WaitlistOffer.objects.get(entry=entry)
    assert offer.status == WaitlistOfferStatus.OPEN
    return entry, offer, later


def test_cancelling_the_session_an_entry_brings_forward_takes_it_off_the_waitlist_and_closes_its_offers(
    clinic, django_capture_on_commit_callbacks
):
    entry, offer, later = _waiting_to_bring_forward(clinic, django_capture_on_commit_callbacks)
    services.appointment_cancel(appointment=later, actor=clinic.front_desk.user, reason="Moving away", now=NOW)

    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.REMOVED
    assert entry.history.first().history_change_reason == (
        "Removed from the waitlist: the session it would bring forward (Fri 20 Mar 2026 10:00) was cancelled"
    )
    assert entry.history.first().history_user == clinic.front_desk.user
    offer.refresh_from_db()
    assert offer.status == WaitlistOfferStatus.CLOSED


def test_a_missed_session_takes_the_entry_bringing_it_forward_off_the_waitlist(clinic):
    desk = clinic.front_desk.user
    patient = PatientFactory(home_site=clinic.site)
    later = services.appointment_book(
        patient=patient, site=clinic.site, starts_at=LATER, chair=clinic.chairs[1], actor=desk, now=NOW
    )
    entry = waitlist_add(
        patient=patient, site=clinic.site, earliest_date=dt.date(2026, 3, 2), replaces=later, actor=desk, now=NOW
    )
    services.appointment_mark_no_show(appointment=later, actor=desk, now=LATER + dt.timedelta(hours=1))

    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.REMOVED
    assert entry.history.first().history_change_reason.endswith("was missed")


def test_the_sweep_takes_off_an_entry_whose_session_began_or_went_while_an_accept_held_it(clinic):
    """An accept holding the entry when its session was cancelled is not waited for (the two lock in
    opposite orders); nor does anything announce a session that has begun. The sweep removes both."""
    desk = clinic.front_desk.user
    patient = PatientFactory(home_site=clinic.site)
    later = services.appointment_book(
        patient=patient, site=clinic.site, starts_at=LATER, chair=clinic.chairs[1], actor=desk, now=NOW
    )
    entry = waitlist_add(
        patient=patient, site=clinic.site, earliest_date=dt.date(2026, 3, 2), replaces=later, actor=desk, now=NOW
    )
    untouched = waitlist_add(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        actor=desk,
        now=NOW,
    )
    assert waitlist_offers_sweep(now=NOW) == 0
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING  # still ahead

    waitlist_offers_sweep(now=LATER + dt.timedelta(minutes=5))  # begun: the patient is late, or here
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.REMOVED
    assert entry.history.first().history_change_reason.endswith("is no longer ahead")
    untouched.refresh_from_db()
    assert untouched.status == WaitlistStatus.WAITING
