"""Signed links in messages (reminder confirm/cancel, waitlist accept) act for the patient they
were sent to: "the signed token is the patient's authority, so no login" (web/reminder_links.py,
web/waitlist.py). Whoever happens to be signed in on the browser that opens the link (another
patient of the same family computer, a member of staff at the desk) neither becomes the author of
the change in the session's history (domain.md: "Every change must be traceable: who changed
what, when and why") nor can stop the patient's own link from working."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from clinic.models import Role
from scheduling import services
from scheduling.models import Appointment, AppointmentStatus, WaitlistOffer
from scheduling.reminders import tokens
from scheduling.services.waitlist import make_accept_token, waitlist_add
from tests import factories
from tests.reminders.helpers import UTC, fresh, make_appointment
from tests.scheduling.conftest import NOW as WAITLIST_NOW
from tests.scheduling.conftest import make_clinic

pytestmark = pytest.mark.django_db

REMINDER_NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York
FREED_AT = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)  # Tuesday 10:00 in New York


def test_a_reminder_cancel_link_opened_where_another_patient_is_signed_in_is_not_recorded_as_theirs():
    with time_machine.travel(REMINDER_NOW, tick=False):
        appointment = make_appointment(starts_at=SESSION)
        bob = factories.PatientFactory(user=factories.UserFactory(username="bob"), home_site=appointment.site)
        browser = Client()
        browser.force_login(bob.user)
        token = tokens.make_token(appointment=appointment, purpose=tokens.CANCEL)

        response = browser.post(f"/r/cancel/{token}/")

    assert response.status_code == 200
    cancelled = fresh(appointment)
    assert cancelled.status == AppointmentStatus.CANCELLED
    last = cancelled.history.first()
    assert last.history_user_id != bob.user.pk, (
        "the session's history says another patient (bob) cancelled Alice's session"
    )


def _offer(clinic, django_capture_on_commit_callbacks) -> WaitlistOffer:
    freed = services.appointment_book(
        patient=factories.PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=FREED_AT,
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=WAITLIST_NOW,
    )
    waitlist_add(
        patient=factories.PatientFactory(home_site=clinic.site, reminder_consent=True),
        site=clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        latest_date=None,
        actor=clinic.front_desk.user,
        now=WAITLIST_NOW,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=WAITLIST_NOW)
    return WaitlistOffer.objects.get()


def test_a_waitlist_accept_link_opened_where_another_patient_is_signed_in_books_for_the_patient_not_as_them(
    django_capture_on_commit_callbacks,
):
    with time_machine.travel(WAITLIST_NOW, tick=False):
        clinic = make_clinic()
        offer = _offer(clinic, django_capture_on_commit_callbacks)
        bob = factories.PatientFactory(user=factories.UserFactory(username="bob"), home_site=clinic.site)
        browser = Client()
        browser.force_login(bob.user)

        response = browser.post(f"/w/{make_accept_token(offer)}/")

    assert response.status_code == 200, response.content.decode()
    booked = Appointment.objects.get(patient=offer.entry.patient, starts_at=FREED_AT)
    assert booked.booked_by_id != bob.user.pk, "the booking names another patient (bob) as who booked it"


def test_a_waitlist_accept_link_still_works_on_a_browser_signed_in_as_staff_of_another_site(
    django_capture_on_commit_callbacks,
):
    with time_machine.travel(WAITLIST_NOW, tick=False):
        clinic = make_clinic()
        offer = _offer(clinic, django_capture_on_commit_callbacks)
        elsewhere = factories.StaffFactory(role=Role.FRONT_DESK, sites=[factories.SiteFactory()])
        browser = Client()
        browser.force_login(elsewhere.user)

        response = browser.post(f"/w/{make_accept_token(offer)}/")

    assert response.status_code == 200, response.content.decode()
    assert Appointment.objects.filter(patient=offer.entry.patient, starts_at=FREED_AT).exists()
