"""A patient who turns reminders on in the portal gets reminders for the sessions already booked."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.models import Channel
from scheduling.models import Reminder, ReminderKind, ReminderStatus
from scheduling.services import course_book
from tests.factories import PatientFactory, UserFactory
from tests.web.conftest import NOW, START, login

pytestmark = pytest.mark.django_db


def test_opting_in_from_the_portal_queues_reminders_for_sessions_already_booked(client, web):
    user = UserFactory(username="patient_c")
    patient = PatientFactory(user=user, home_site=web.clinic.site, reminder_consent=False)
    plan = web.clinic.plan(patient=patient)
    sessions = course_book(plan=plan, actor=web.desk.user, now=NOW, start_date=START)
    assert sessions and not Reminder.objects.filter(appointment__patient=patient).exists()

    login(client, user)
    response = client.post(
        reverse("web:portal-preferences"), {"preferred_channel": Channel.EMAIL, "reminder_consent": "on"}
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.reminder_consent is True
    # The portal answers "Your reminder choices are saved"; yet none of the six sessions will be reminded.
    queued = Reminder.objects.filter(
        appointment__patient=patient, kind=ReminderKind.REMINDER, status=ReminderStatus.PENDING
    ).count()
    assert queued > 0, "consent given in the portal, but no reminder will ever go out for the booked sessions"


def test_consent_given_again_queues_no_reminder_twice_and_no_booking_confirmation(client, web):
    user = UserFactory(username="patient_d")
    patient = PatientFactory(user=user, home_site=web.clinic.site, reminder_consent=False)
    plan = web.clinic.plan(patient=patient)
    course_book(plan=plan, actor=web.desk.user, now=NOW, start_date=START)
    login(client, user)
    url = reverse("web:portal-preferences")

    for consent in ("on", "", "on"):  # opt in, withdraw, opt in again
        client.post(url, {"preferred_channel": Channel.EMAIL, "reminder_consent": consent})

    rows = Reminder.objects.filter(appointment__patient=patient, status=ReminderStatus.PENDING)
    kinds = list(rows.values_list("kind", flat=True))
    assert kinds and set(kinds) == {ReminderKind.REMINDER}
    each = list(rows.values_list("appointment_id", "offset_minutes"))
    assert len(each) == len(set(each)), "a reminder queued twice for one session and offset"
