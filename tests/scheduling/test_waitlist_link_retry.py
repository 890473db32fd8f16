"""A waitlist accept link the provider refused is tried again, as a reminder is: by the sweep, with
the reminders' backoff (1, 2, 4 ... minutes), while the session is ahead and up to the site's
reminder policy's max_attempts. The desk sees the last error until a try succeeds."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import ReminderPolicy
from scheduling.models import WaitlistOffer
from scheduling.reminders.sms import MemorySmsBackend
from scheduling.services.waitlist import waitlist_offers_sweep
from tests.reminders.backends import FailsOnceSmsBackend
from tests.scheduling.test_waitlist_quiet_hours import offer_for_a_cancel

pytestmark = pytest.mark.django_db

FREED_AT = dt.datetime(2026, 3, 4, 15, tzinfo=dt.UTC)  # Wednesday 10:00 in New York
DAY = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)  # Tuesday 10:00 in New York: outside quiet hours


@pytest.fixture
def sms_outbox():
    MemorySmsBackend.outbox.clear()
    yield MemorySmsBackend.outbox
    MemorySmsBackend.outbox.clear()


def offer_made_at(clinic, captured, when=DAY) -> WaitlistOffer:
    """An offer to a patient who wants text messages, of a session at FREED_AT cancelled at `when`."""
    return offer_for_a_cancel(
        clinic, captured, freed_at=FREED_AT, cancelled_at=when, preferred_channel="sms", mobile_phone="+12025550188"
    )


def test_a_link_the_provider_refused_once_goes_out_on_the_next_try(
    clinic, settings, sms_outbox, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "tests.reminders.backends.FailsOnceSmsBackend"
    FailsOnceSmsBackend.failed = False  # the first send fails
    offer = offer_made_at(clinic, django_capture_on_commit_callbacks)
    assert offer.messaged_at is None and offer.message_error
    assert (offer.message_attempts, offer.message_due_at) == (1, DAY + dt.timedelta(minutes=1))
    waitlist_offers_sweep(now=DAY + dt.timedelta(minutes=1))
    offer.refresh_from_db()
    assert offer.messaged_at == DAY + dt.timedelta(minutes=1)
    assert (offer.message_attempts, offer.message_due_at, offer.message_error) == (2, None, "")
    assert len([m for m in sms_outbox if "a chair is free" in m.body]) == 1


def test_a_provider_that_keeps_refusing_is_tried_up_to_the_policys_limit(
    clinic, settings, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "tests.reminders.backends.FailingSmsBackend"
    ReminderPolicy.objects.filter(site=clinic.site).update(max_attempts=3)
    offer = offer_made_at(clinic, django_capture_on_commit_callbacks)
    waitlist_offers_sweep(now=DAY + dt.timedelta(minutes=1))  # the 2nd try; the 3rd is due 2 minutes later
    offer.refresh_from_db()
    assert (offer.message_attempts, offer.message_due_at) == (2, DAY + dt.timedelta(minutes=3))
    waitlist_offers_sweep(now=DAY + dt.timedelta(minutes=3))
    offer.refresh_from_db()
    assert (offer.message_attempts, offer.message_due_at, offer.messaged_at) == (3, None, None)
    assert offer.message_error  # the desk sees why and may call
    waitlist_offers_sweep(now=DAY + dt.timedelta(hours=1))
    offer.refresh_from_db()
    assert offer.message_attempts == 3


def test_no_retry_is_planned_at_or_after_the_session(clinic, settings, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "tests.reminders.backends.FailingSmsBackend"
    # Freed 30 seconds before the session: a retry a minute later would come after it started.
    offer = offer_made_at(clinic, django_capture_on_commit_callbacks, when=FREED_AT - dt.timedelta(seconds=30))
    assert (offer.message_attempts, offer.message_due_at) == (1, None)
