"""The desk's waitlist page says when an accept link the provider refused is tried again, and why."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from tests.scheduling.test_waitlist_link_retry import DAY, offer_made_at
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def test_the_desk_sees_that_a_link_waiting_for_a_retry_was_refused(
    client,
    clinic,
    settings,
    django_capture_on_commit_callbacks,
):
    """WaitlistOffer.message_attempts / _message_offer: "the desk sees the error" while a refused
    link waits for its retry. The page must not show it as an ordinary link held back by quiet
    hours ("link goes out ..., after quiet hours"): DAY is 10:00 in New York, outside quiet hours,
    and the link was refused by the provider, which the desk needs to know (to call the patient)."""
    settings.SMS_BACKEND = "tests.reminders.backends.FailingSmsBackend"
    offer = offer_made_at(clinic, django_capture_on_commit_callbacks)
    assert offer.message_error and offer.message_due_at == DAY + dt.timedelta(minutes=1)
    with time_machine.travel(DAY + dt.timedelta(seconds=20), tick=False):
        login(client, clinic.front_desk.user)
        page = client.get(reverse("web:waitlist")).content.decode()
    assert "after quiet hours" not in page
    assert "not sent" in page or offer.message_error in page
