"""An offer whose chair was taken out of use, or whose site (or every site) was closed, for any of
the offered time after it was made is no longer free: its waiting message (the patient's quiet
hours, a provider's refusal to be tried again) is not sent, and the accept link offers nothing to
book, as for an offer whose chair was booked since. A closure of another chair changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from clinic.models import Channel, Closure
from scheduling import services
from scheduling.models import WaitlistOffer
from scheduling.reminders.sms import MemorySmsBackend
from scheduling.services.waitlist import (
    make_accept_token,
    offer_still_free,
    waitlist_add,
    waitlist_offer_freed_slot,
    waitlist_offer_messages_due,
)
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

FREED_AT = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)  # Tuesday 3 March 2026, 10:00 in New York
LATER = NOW + dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def _offer_waiting_for_its_message(clinic) -> WaitlistOffer:
    """An offer of chairs[0] at FREED_AT whose message waits until NOW + 30 minutes."""
    freed = services.appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=FREED_AT,
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    waiting = PatientFactory(home_site=clinic.site, reminder_consent=True, preferred_channel=Channel.EMAIL)
    waitlist_add(
        patient=waiting, site=clinic.site, earliest_date=dt.date(2026, 3, 2), actor=clinic.front_desk.user, now=NOW
    )
    services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    (offer,) = waitlist_offer_freed_slot(appointment_id=freed.pk, now=NOW, send=False)
    WaitlistOffer.objects.filter(pk=offer.pk).update(message_due_at=NOW + dt.timedelta(minutes=30))
    return offer


def _closed(**where) -> Closure:
    return Closure.objects.create(
        starts_at=FREED_AT - dt.timedelta(hours=3),
        ends_at=FREED_AT + dt.timedelta(hours=8),
        reason="IV pump broken",
        **where,
    )


def _messages_sent_later() -> int:
    mail.outbox.clear()
    MemorySmsBackend.outbox.clear()
    with time_machine.travel(LATER, tick=False):
        sent = waitlist_offer_messages_due(now=LATER)
    assert sent == len(mail.outbox) + len(MemorySmsBackend.outbox)
    return sent


def test_a_deferred_offer_message_is_not_sent_once_the_chair_is_out_of_use_then(clinic):
    offer = _offer_waiting_for_its_message(clinic)
    _closed(site=clinic.site, chair=clinic.chairs[0])

    assert _messages_sent_later() == 0, "the patient was invited to accept a chair out of use for the session"
    assert not offer_still_free(offer)


@pytest.mark.parametrize("every_site", [False, True], ids=["the site", "every site"])
def test_a_deferred_offer_message_is_not_sent_once_the_site_is_closed_then(clinic, every_site):
    offer = _offer_waiting_for_its_message(clinic)
    _closed(site=None if every_site else clinic.site)

    assert _messages_sent_later() == 0
    assert not offer_still_free(offer)


def test_a_closure_of_another_chair_or_at_another_time_leaves_the_offer_to_be_sent(clinic):
    offer = _offer_waiting_for_its_message(clinic)
    _closed(site=clinic.site, chair=clinic.chairs[1])
    Closure.objects.create(
        site=clinic.site,
        chair=clinic.chairs[0],
        starts_at=FREED_AT - dt.timedelta(hours=3),
        ends_at=FREED_AT,  # ends as the session starts: the offered time is untouched
        reason="Pump serviced",
    )

    assert offer_still_free(offer)
    assert _messages_sent_later() == 1


def test_the_accept_link_offers_nothing_to_book_in_a_chair_out_of_use(client, clinic):
    offer = _offer_waiting_for_its_message(clinic)
    _closed(site=clinic.site, chair=clinic.chairs[0])

    page = client.get(reverse("web:waitlist-accept-link", args=[make_accept_token(offer)]))

    assert page.status_code == 409
    assert "Yes, book this session for me" not in page.content.decode()
