"""A booking plans the patient's reminders from what is saved when it takes the patient's lock,
not from the copy it read before: a consent given (or a detail changed) while the booking ran was
planned for the sessions booked until then (`reminders_resume`, `reminders_replan`), which did not
yet include this one. Without this, a session booked during the consent change gets no reminders."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from patients.models import Patient
from scheduling import services
from scheduling.models import Reminder, ReminderKind
from scheduling.services.core import lock_for_booking
from tests.factories import PatientFactory, SiteFactory
from tests.scheduling.conftest import NOW, START, at_new_york, make_clinic

pytestmark = pytest.mark.django_db


def test_consent_given_while_a_booking_runs_still_gives_the_session_its_reminders():
    clinic = make_clinic()
    patient = PatientFactory(home_site=clinic.site, reminder_consent=False)
    stale = Patient.objects.select_related("home_site").get(pk=patient.pk)  # what the booking read first
    # Meanwhile the patient consents on the portal: the receiver plans the sessions booked so far (none).
    fresh = Patient.objects.get(pk=patient.pk)
    fresh.reminder_consent = True
    fresh.reminder_consent_changed_at = NOW
    fresh.save()
    appointment = services.appointment_book(
        patient=stale,
        site=clinic.site,
        starts_at=at_new_york(START + dt.timedelta(days=7), 10),
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    kinds = set(Reminder.objects.filter(appointment=appointment).values_list("kind", flat=True))
    assert {ReminderKind.CONFIRMATION, ReminderKind.REMINDER} <= kinds, kinds


@pytest.mark.parametrize("nurses", [1, 2])  # one statement locks nurse and patient, or one each
def test_the_lock_reads_the_patients_reminder_inputs_again(nurses):
    clinic = make_clinic(nurses=2)
    other_site = SiteFactory(time_zone="America/Denver")
    patient = PatientFactory(home_site=clinic.site, reminder_consent=False, preferred_channel="email")
    stale = Patient.objects.select_related("home_site").get(pk=patient.pk)
    Patient.objects.filter(pk=patient.pk).update(
        reminder_consent=True,
        preferred_channel="sms",
        mobile_phone="+12025550177",
        email="new@example.org",
        time_zone="Europe/London",
        home_site=other_site,
    )
    with transaction.atomic():
        lock_for_booking(nurse_ids=[n.pk for n in clinic.nurses[:nurses]], patient=stale)
    assert stale.reminder_consent is True
    assert (stale.preferred_channel, stale.email, stale.time_zone) == ("sms", "new@example.org", "Europe/London")
    assert str(stale.mobile_phone) == "+12025550177"
    assert stale.home_site.pk == other_site.pk  # the cached site went with the changed id


def test_a_phone_saved_while_a_booking_runs_is_the_one_its_reminders_use():
    clinic = make_clinic()
    patient = PatientFactory(home_site=clinic.site, reminder_consent=True, preferred_channel="sms", email="")
    stale = Patient.objects.select_related("home_site").get(pk=patient.pk)
    fresh = Patient.objects.get(pk=patient.pk)
    fresh.mobile_phone = "+12025550177"
    fresh.save()
    appointment = services.appointment_book(
        patient=stale,
        site=clinic.site,
        starts_at=at_new_york(START + dt.timedelta(days=7), 10),
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    assert str(appointment.patient.mobile_phone) == "+12025550177"
    assert Reminder.objects.filter(appointment=appointment, channel="sms").exists()
