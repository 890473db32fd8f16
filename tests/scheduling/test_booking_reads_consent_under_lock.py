"""A booking plans the patient's reminders from what is saved when it takes the patient's lock,
not from the copy it read before: a consent given (or a detail changed) while the booking ran was
planned for the sessions booked until then (`reminders_resume`, `reminders_replan`), which did not
yet include this one. Without this, a session booked during the consent change gets no reminders.
The home site's zone (the patient's when they name none) is read there too, and every path that
books takes the lock, the FHIR $book of a hold included."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from clinic.models import Site
from patients.models import Patient
from scheduling import services
from scheduling.models import Reminder, ReminderKind
from scheduling.services.core import lock_for_booking
from tests.factories import PatientFactory, SiteFactory
from tests.scheduling.conftest import NOW, START, at_new_york, make_clinic

pytestmark = pytest.mark.django_db


def book(clinic, patient, **extra):
    """A session a week after START at 10:00, booked for `patient` as read before the lock."""
    return services.appointment_book(
        patient=patient,
        site=clinic.site,
        starts_at=at_new_york(START + dt.timedelta(days=7), 10),
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
        **extra,
    )


def test_consent_given_while_a_booking_runs_still_gives_the_session_its_reminders():
    clinic = make_clinic()
    patient = PatientFactory(home_site=clinic.site, reminder_consent=False)
    stale = Patient.objects.select_related("home_site").get(pk=patient.pk)  # what the booking read first
    # Meanwhile the patient consents on the portal: the receiver plans the sessions booked so far (none).
    fresh = Patient.objects.get(pk=patient.pk)
    fresh.reminder_consent = True
    fresh.reminder_consent_changed_at = NOW
    fresh.save()
    appointment = book(clinic, stale)
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
    appointment = book(clinic, stale)
    assert str(appointment.patient.mobile_phone) == "+12025550177"
    assert Reminder.objects.filter(appointment=appointment, channel="sms").exists()


def test_a_home_site_zone_corrected_while_a_booking_runs_times_its_reminders(settings):
    """lock_for_booking: "a consent or a detail saved while the booking ran was planned for the
    sessions booked so far (reminders_replan), not this one, so this booking must plan from the saved
    values". A patient who names no zone of their own is reminded in their home site's zone
    (Patient.zone); a corrected site zone re-plans that site's patients' sessions booked so far
    (replan_reminders_of_a_sites_patients), so a booking that read the patient (and its home site)
    before must plan from the saved zone. NOW is 10:00 in New York but midnight in Tokyo: inside
    Tokyo's quiet hours (21:00-08:00) the confirmation waits for 08:00 Tokyo (23:00 UTC)."""
    clinic = make_clinic()
    home = SiteFactory(time_zone="America/New_York")
    patient = PatientFactory(home_site=home, time_zone="", reminder_consent=True, preferred_channel="email")
    stale = Patient.objects.select_related("home_site").get(pk=patient.pk)  # what the booking read first
    # Meanwhile the home site's zone is corrected (its receiver re-planned the sessions booked so far: none).
    Site.objects.filter(pk=home.pk).update(time_zone="Asia/Tokyo")
    appointment = book(clinic, stale)
    confirmation = Reminder.objects.get(appointment=appointment, kind=ReminderKind.CONFIRMATION)
    assert confirmation.due_at == dt.datetime(2026, 2, 27, 23, tzinfo=dt.UTC), confirmation.due_at


@pytest.mark.django_db(transaction=True)
def test_a_hold_booked_while_consent_is_being_given_gets_its_reminders():
    """The FHIR $book of a held time (appointment_book_held) is a booking like any other: it must
    plan its reminders from what is saved once it holds the patient's lock, as lock_for_booking
    makes every other booking do. It takes no patient lock, so a consent saved (and its
    reminders_resume run, which skips a session still held) while the hold is being booked leaves
    the booked session without reminders for good."""
    import threading

    import time_machine
    from django.db import connection, transaction
    from django.utils import timezone

    with time_machine.travel(NOW, tick=True):
        clinic = make_clinic()
        patient = PatientFactory(home_site=clinic.site, reminder_consent=False, preferred_channel="email")
        held = book(clinic, patient, hold_until=NOW + dt.timedelta(minutes=30))
        saved, errors = threading.Event(), []

        def consent() -> None:
            try:
                with transaction.atomic():
                    me = Patient.objects.get(pk=patient.pk)
                    me.reminder_consent, me.reminder_consent_changed_at = True, timezone.now()
                    me.save(update_fields=["reminder_consent", "reminder_consent_changed_at", "updated_at"])
                    saved.set()
                    threading.Event().wait(1.0)  # the booking of the hold runs meanwhile
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=consent)
        thread.start()
        assert saved.wait(10)
        booked = services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)
        thread.join(30)
    assert not errors, errors
    kinds = set(Reminder.objects.filter(appointment=booked).values_list("kind", flat=True))
    assert {ReminderKind.CONFIRMATION, ReminderKind.REMINDER} <= kinds, kinds
