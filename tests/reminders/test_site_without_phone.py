"""A site with no phone number on record: its messages leave the number out and still read as
sentences, never "None" or "call us on ." where the number would be."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.test import Client

from clinic.models import Channel, Site
from scheduling.models import ReminderKind
from scheduling.reminders import tokens
from scheduling.reminders.rendering import link_url, message_context
from scheduling.reminders.services import reminders_cancel, reminders_dispatch_due, reminders_schedule
from tests.reminders.helpers import UTC, cancel, emails_for, make_appointment, rows

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)  # Sunday 10:00 in New York
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York


def without_phone(**kwargs):
    appointment = make_appointment(starts_at=SESSION, **kwargs)
    Site.objects.filter(pk=appointment.site_id).update(phone="")
    appointment.site.refresh_from_db()
    return appointment


@pytest.mark.parametrize("phone", ["", None])
def test_a_reminder_gives_no_phone_number_when_the_site_has_none(phone):
    appointment = make_appointment(starts_at=SESSION)
    # None: a site read without its number (the field's empty value), as well as one stored empty.
    appointment.site.phone = phone
    assert message_context(appointment=appointment, with_links=False)["site_phone"] == ""


def test_booking_and_cancellation_emails_read_sensibly_without_a_phone_number():
    appointment = without_phone()
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_dispatch_due(now=NOW)
    [confirmation] = emails_for(rows(appointment, kind=ReminderKind.CONFIRMATION)[0])
    reminders_cancel(appointment=cancel(appointment, now=NOW), now=NOW)
    mail.outbox.clear()
    reminders_dispatch_due(now=NOW)
    [cancellation] = emails_for(rows(appointment, kind=ReminderKind.CANCELLATION)[0])
    assert "Phone:" not in confirmation.body and "None" not in confirmation.body
    assert "To book another session, call us." in cancellation.body, cancellation.body
    assert "None" not in cancellation.body and "call us on" not in cancellation.body


def test_a_cancellation_text_reads_sensibly_without_a_phone_number(sms_outbox):
    appointment = without_phone(preferred_channel=Channel.SMS)
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_cancel(appointment=cancel(appointment, now=NOW), now=NOW)
    reminders_dispatch_due(now=NOW)
    [text] = [m for m in sms_outbox if "is cancelled" in m.body]
    assert text.body.endswith("is cancelled. To rebook call us."), text.body


def test_the_number_is_given_when_the_site_has_one():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_cancel(appointment=cancel(appointment, now=NOW), now=NOW)
    reminders_dispatch_due(now=NOW)
    [cancellation] = emails_for(rows(appointment, kind=ReminderKind.CANCELLATION)[0])
    assert f"To book another session, call us on {appointment.site.phone}." in cancellation.body


def test_the_cancel_link_inside_the_notice_period_asks_to_call_without_a_blank_number():
    appointment = without_phone()
    path = link_url(appointment=appointment, purpose=tokens.CANCEL).removeprefix("https://clinic.example")
    with time_machine.travel(SESSION - dt.timedelta(hours=23), tick=False):  # policy: 24 h notice
        page = Client().get(path).content.decode()
    assert "Please call us instead." in page and 'href="tel:' not in page
