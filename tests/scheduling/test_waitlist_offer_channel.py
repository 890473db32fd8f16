"""The channel of the waitlist's offer message to a patient."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from clinic.models import Channel, ReminderPolicy
from scheduling import services
from scheduling.models import WaitlistOffer
from scheduling.reminders.sms import MemorySmsBackend
from scheduling.services.waitlist import waitlist_add
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

# Tuesday 3 March 2026, 10:00 in New York.
FREED_AT = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=True):
        yield


def test_a_waitlist_offer_is_not_sent_by_text_message_when_the_clinic_does_not_send_them(
    clinic, django_capture_on_commit_callbacks
):
    """The site's reminder policy sends no text messages (`sms_enabled` off): the waitlist's offer
    goes by email, as the reminders do (choose_channel with the site's policy), not by a text the
    clinic has turned off."""
    ReminderPolicy.objects.filter(site=clinic.site).update(sms_enabled=False)
    MemorySmsBackend.outbox.clear()
    freed = services.appointment_book(
        patient=PatientFactory(home_site=clinic.site, reminder_consent=False),
        site=clinic.site,
        starts_at=FREED_AT,
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    waiting = PatientFactory(home_site=clinic.site, reminder_consent=True, preferred_channel=Channel.SMS)
    waitlist_add(
        patient=waiting,
        site=clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        latest_date=None,
        actor=clinic.front_desk.user,
        now=NOW,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    offer = WaitlistOffer.objects.get(entry__patient=waiting)
    assert offer.messaged_at is not None

    assert MemorySmsBackend.outbox == [], "a text message went out although the clinic sends none"
    assert [m.to for m in mail.outbox] == [[waiting.email]]


def test_the_waitlist_text_message_names_the_patients_zone_when_it_is_not_the_clinics(
    clinic, django_capture_on_commit_callbacks
):
    """A patient who lives in London, waiting at a New York clinic: the offer's text message gives
    the time on the patient's clock (15:00 in London), so it must say so, or it reads as the
    clinic's 15:00, five hours after the chair is actually free. The reminders' texts follow the same
    rule (scheduling/reminders/rendering.py `zone_note`, tests/reminders/test_sms_zone_note.py)."""
    MemorySmsBackend.outbox.clear()
    freed = services.appointment_book(
        patient=PatientFactory(home_site=clinic.site, reminder_consent=False),
        site=clinic.site,
        starts_at=FREED_AT,
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    waiting = PatientFactory(
        home_site=clinic.site,
        reminder_consent=True,
        time_zone="Europe/London",
        preferred_channel=Channel.SMS,
        mobile_phone="+12025550199",
    )
    waitlist_add(
        patient=waiting, site=clinic.site, earliest_date=dt.date(2026, 3, 2), actor=clinic.front_desk.user, now=NOW
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    offer = WaitlistOffer.objects.get(entry__patient=waiting)
    assert offer.starts_at == FREED_AT  # 10:00 in New York

    [text] = [m.body for m in MemorySmsBackend.outbox if m.to == str(waiting.mobile_phone)]
    assert "Tue 3 Mar 15:00" in text
    assert "Tue 3 Mar 15:00 GMT" in text, f"the time is not marked as the patient's own: {text!r}"


def test_the_waitlist_text_message_names_no_zone_when_the_patient_keeps_the_clinics(
    clinic, django_capture_on_commit_callbacks
):
    MemorySmsBackend.outbox.clear()
    freed = services.appointment_book(
        patient=PatientFactory(home_site=clinic.site, reminder_consent=False),
        site=clinic.site,
        starts_at=FREED_AT,
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    waiting = PatientFactory(
        home_site=clinic.site, reminder_consent=True, preferred_channel=Channel.SMS, mobile_phone="+12025550199"
    )
    waitlist_add(
        patient=waiting, site=clinic.site, earliest_date=dt.date(2026, 3, 2), actor=clinic.front_desk.user, now=NOW
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)

    [text] = [m.body for m in MemorySmsBackend.outbox if m.to == str(waiting.mobile_phone)]
    assert "a chair is free Tue 3 Mar 10:00. First to accept" in text
