"""Accepting an offer that brings a session forward moves that session; it never books a second one."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
import time_machine

from clinic.errors import DomainError
from scheduling import services
from scheduling.models import Appointment, AppointmentStatus, WaitlistOffer
from scheduling.services.waitlist import waitlist_add, waitlist_offer_accept
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

FREED_AT = dt.datetime(2026, 3, 10, 14, tzinfo=dt.UTC)  # Tue 10 March, 10:00 New York (EDT)
LATER = dt.datetime(2026, 3, 20, 14, tzinfo=dt.UTC)  # Fri 20 March, 10:00 New York
EARLIER = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)  # Mon 2 March, 10:00 New York (EST)


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=True):
        yield


def test_an_old_offer_accepted_after_the_session_it_brings_forward_was_held_books_no_second_session(
    clinic, django_capture_on_commit_callbacks
):
    """An offer to bring a session forward, accepted after that session was moved earlier by the desk
    and checked in, is refused: it books no second infusion."""
    desk = clinic.front_desk.user
    freed = services.appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=FREED_AT,
        chair=clinic.chairs[0],
        actor=desk,
        now=NOW,
    )
    patient = PatientFactory(home_site=clinic.site)
    later = services.appointment_book(
        patient=patient, site=clinic.site, starts_at=LATER, chair=clinic.chairs[1], actor=desk, now=NOW
    )
    entry = waitlist_add(
        patient=patient,
        site=clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        replaces=later,
        actor=desk,
        now=NOW,
        notify_patient=False,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=freed, actor=desk, reason="Flu", now=NOW)
    offer = WaitlistOffer.objects.get(entry=entry)

    services.appointment_move(appointment=later, starts_at=EARLIER, chair=clinic.chairs[1], actor=desk, now=NOW)
    arrived = EARLIER - dt.timedelta(minutes=10)
    services.appointment_check_in(appointment=later, actor=desk, now=arrived)
    later.refresh_from_db()
    assert later.status == AppointmentStatus.CHECKED_IN

    with contextlib.suppress(DomainError):
        waitlist_offer_accept(offer=offer, actor=None, now=arrived + dt.timedelta(minutes=30))
    sessions = list(
        Appointment.objects.filter(patient=patient).exclude(status=AppointmentStatus.CANCELLED).order_by("starts_at")
    )
    assert [s.pk for s in sessions] == [later.pk], "accepting 'bring forward' booked a second session: " + ", ".join(
        f"{s.starts_at:%d %b %H:%M} UTC ({s.status})" for s in sessions
    )
