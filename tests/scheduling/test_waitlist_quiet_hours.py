"""A waitlist offer's accept link is a message to the patient like a reminder: never inside
the patient's quiet hours (../shared/domain.md, Reminders). A chair freed at night is offered
at once (the desk sees the offer and may call), and its link goes out when the quiet hours
end, by the sweep, once, and only while the chair is still free. If the quiet hours last
until the session, the link is not sent, and the desk sees why. The quiet hours are the
patient's own, in their zone (on the night their clocks change too), and the link names the
time in that zone."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from clinic.models import ReminderPolicy
from scheduling import services
from scheduling.models import WaitlistOffer
from scheduling.services.waitlist import QUIET_UNTIL_SESSION, waitlist_add, waitlist_offers_sweep
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

# Tuesday 3 March 2026, 10:00 in New York (the clinic's and the patients' zone).
FREED_AT = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)
# Monday 2 March, 23:00 in New York: inside the default quiet hours (21:00-08:00).
NIGHT = dt.datetime(2026, 3, 3, 4, tzinfo=dt.UTC)
# Tuesday 08:00 in New York, when they end.
QUIET_ENDS = dt.datetime(2026, 3, 3, 13, tzinfo=dt.UTC)


@pytest.fixture
def night_offer(clinic, django_capture_on_commit_callbacks):
    return cancel_at_night(clinic, django_capture_on_commit_callbacks)


def cancel_at_night(clinic, captured) -> WaitlistOffer:
    """A session booked for FREED_AT, a patient waiting, and the session cancelled at NIGHT."""
    return offer_for_a_cancel(clinic, captured, freed_at=FREED_AT, cancelled_at=NIGHT)


def offer_for_a_cancel(clinic, captured, *, freed_at, cancelled_at, **waiting) -> WaitlistOffer:
    """A session booked for `freed_at`, a patient waiting (who consents to messages; `waiting` gives
    their other details), and the session cancelled at `cancelled_at`: the waiting patient's offer."""
    with time_machine.travel(NOW, tick=False):
        freed = services.appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=freed_at,
            chair=clinic.chairs[0],
            actor=clinic.front_desk.user,
            now=NOW,
        )
        patient = PatientFactory(home_site=clinic.site, reminder_consent=True, **waiting)
        waitlist_add(
            patient=patient,
            site=clinic.site,
            earliest_date=dt.date(2026, 3, 2),
            latest_date=None,
            actor=clinic.front_desk.user,
            now=NOW,
        )
    mail.outbox.clear()
    with time_machine.travel(cancelled_at, tick=False), captured(execute=True):
        services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=cancelled_at)
    return WaitlistOffer.objects.get(entry__patient=patient)


def test_an_offer_made_at_night_is_messaged_when_the_quiet_hours_end_once(night_offer):
    assert mail.outbox == [], "the accept link went out at 23:00, inside the patient's quiet hours"
    assert night_offer.messaged_at is None and night_offer.message_due_at == QUIET_ENDS
    waitlist_offers_sweep(now=QUIET_ENDS - dt.timedelta(minutes=1))
    assert mail.outbox == []
    waitlist_offers_sweep(now=QUIET_ENDS)
    assert [m.to for m in mail.outbox] == [[night_offer.entry.patient.email]]
    night_offer.refresh_from_db()
    assert night_offer.messaged_at == QUIET_ENDS and night_offer.message_due_at is None
    waitlist_offers_sweep(now=QUIET_ENDS + dt.timedelta(minutes=5))
    assert len(mail.outbox) == 1, "the link went out twice"


def test_a_deferred_link_is_not_sent_once_the_chair_is_booked(clinic, night_offer):
    services.appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=FREED_AT,
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NIGHT,
    )
    waitlist_offers_sweep(now=QUIET_ENDS)
    assert mail.outbox == []
    night_offer.refresh_from_db()
    assert night_offer.messaged_at is None


def test_no_link_when_the_quiet_hours_last_until_the_session(clinic, django_capture_on_commit_callbacks):
    ReminderPolicy.objects.filter(site=clinic.site).update(quiet_hours_end=dt.time(11, 0))
    offer = cancel_at_night(clinic, django_capture_on_commit_callbacks)
    assert mail.outbox == []
    assert offer.message_due_at is None and offer.message_error == QUIET_UNTIL_SESSION
    waitlist_offers_sweep(now=QUIET_ENDS)
    assert mail.outbox == []


def test_the_desk_sees_when_the_link_goes_out(client, clinic, night_offer):
    login(client, clinic.front_desk.user)
    with time_machine.travel(NIGHT, tick=False):
        page = client.get(reverse("web:waitlist")).content.decode()
    assert "link goes out Tue 3 Mar 08:00, after quiet hours" in page


# Monday 30 March 2026, 10:00 in New York (14:00 UTC; 15:00 in London, on summer time since Sunday 01:00 UTC).
FREED_AFTER_LONDON_CHANGE = dt.datetime(2026, 3, 30, 14, tzinfo=dt.UTC)
# Sunday 29 March 00:30 in London (still GMT), inside its quiet hours; 20:30 on Saturday in New York.
LONDON_NIGHT_OF_CHANGE = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)
# Sunday 08:00 in London, on summer time: 07:00 UTC.
LONDON_QUIET_ENDS = dt.datetime(2026, 3, 29, 7, tzinfo=dt.UTC)


def test_a_patient_abroad_gets_the_link_when_their_own_quiet_hours_end_on_the_night_their_clocks_change(
    clinic, django_capture_on_commit_callbacks
):
    offer = offer_for_a_cancel(
        clinic,
        django_capture_on_commit_callbacks,
        freed_at=FREED_AFTER_LONDON_CHANGE,
        cancelled_at=LONDON_NIGHT_OF_CHANGE,
        time_zone="Europe/London",
    )
    assert mail.outbox == []
    assert offer.message_due_at == LONDON_QUIET_ENDS
    waitlist_offers_sweep(now=LONDON_QUIET_ENDS)
    assert len(mail.outbox) == 1
    assert "Monday 30 March 2026 at 15:00 (Europe/London)" in mail.outbox[0].body
