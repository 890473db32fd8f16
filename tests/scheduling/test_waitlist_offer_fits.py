"""An offer is made only when the freed chair can hold the waiting patient's whole session, which
may be longer than the session cancelled."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduling import services
from scheduling.models import WaitlistOffer
from scheduling.services.waitlist import waitlist_add, waitlist_fits, waitlist_offer_accept
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

# Tuesday 3 March 2026, 10:00 in New York.
FREED_AT = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=True):
        yield


def _one_hour_freed(clinic, captured, *, taken_after: bool):
    """A one-hour session 10:00-11:00 cancelled (another patient in the same chair from 11:00 when
    `taken_after`), and a waiting patient with no plan, who needs two hours (DEFAULT_SESSION)."""
    chair, desk = clinic.chairs[0], clinic.front_desk.user

    def book(at, **extra):
        return services.appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=at,
            chair=chair,
            actor=desk,
            now=NOW,
            **extra,
        )

    freed = book(FREED_AT, duration=dt.timedelta(hours=1))
    if taken_after:
        book(FREED_AT + dt.timedelta(hours=1))
    entry = waitlist_add(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        actor=desk,
        now=NOW,
    )
    with captured(execute=True):
        services.appointment_cancel(appointment=freed, actor=desk, reason="Flu", now=NOW)
    freed.refresh_from_db()
    return freed, entry


def test_a_freed_hour_is_not_offered_to_a_two_hour_patient_when_the_chair_is_taken_after_it(
    clinic, django_capture_on_commit_callbacks
):
    freed, entry = _one_hour_freed(clinic, django_capture_on_commit_callbacks, taken_after=True)

    # No dead link sent (it would only say "can no longer be booked"), and the desk is told nobody fits.
    assert not WaitlistOffer.objects.filter(entry=entry).exists()
    assert waitlist_fits(freed=freed, now=NOW) == []


def test_a_freed_hour_with_the_chair_free_after_it_is_offered_and_books_two_hours(
    clinic, django_capture_on_commit_callbacks
):
    freed, entry = _one_hour_freed(clinic, django_capture_on_commit_callbacks, taken_after=False)

    [offer] = WaitlistOffer.objects.filter(entry=entry)
    assert [e.pk for e in waitlist_fits(freed=freed, now=NOW)] == [entry.pk]
    booked = waitlist_offer_accept(offer=offer, actor=None, now=NOW)
    assert (booked.starts_at, booked.ends_at - booked.starts_at) == (FREED_AT, dt.timedelta(hours=2))
