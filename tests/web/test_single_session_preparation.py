"""What the portal and its calendar file tell a patient about a session booked outside a plan."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse
from icalendar import Calendar

from scheduling.models import Protocol, Reminder, ReminderKind
from scheduling.reminders.services import reminders_dispatch_due
from scheduling.services import appointment_book
from tests.scheduling.conftest import at_new_york
from tests.web.conftest import NOW, dt, login

pytestmark = pytest.mark.django_db

DEFAULT_PREPARATION = Protocol._meta.get_field("preparation_notes").get_default()
RIDE_HOME = "Arrange for someone to drive you home"


def _single_session(web):
    return appointment_book(
        patient=web.patient_a,
        site=web.clinic.site,
        starts_at=at_new_york(dt.date(2026, 3, 20), 10),
        chair=web.clinic.chairs[1],
        actor=web.desk.user,
        now=NOW,
    )


def test_a_single_session_shows_the_same_preparation_in_the_portal_and_its_ics_as_in_the_email(client, web):
    """A session without a plan gets the default preparation notes (arrange a ride home, fasting,
    medications) in its booking email, on the portal's card and in its .ics alike."""
    single = _single_session(web)
    confirmation = Reminder.objects.get(appointment=single, kind=ReminderKind.CONFIRMATION)
    reminders_dispatch_due(now=confirmation.due_at)
    [email] = [m for m in mail.outbox if m.extra_headers.get("X-Reminder-Id") == str(confirmation.pk)]
    assert RIDE_HOME in email.body  # the email does tell the patient

    login(client, web.patient_a.user)
    ics = client.get(reverse("web:portal-ics", args=[single.pk]))
    [event] = Calendar.from_ical(ics.content).walk("VEVENT")
    home = client.get(reverse("home"))
    card = next(a for a in home.context["upcoming"] if a.pk == single.pk)

    assert RIDE_HOME in str(event.get("description", "")), "the .ics has no preparation notes"
    assert RIDE_HOME in card.preparation, "the portal shows no preparation notes"
