"""Booking a hold ($book) checks the held time against the site as it stands then, as every
booking is checked: a chair taken out of use, or the site (or every site) closed, since the time
was held refuses the booking with the conflict's reason, and the hold stays (to lapse)."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Closure
from scheduling.errors import BookingConflict
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import appointment_book_held
from tests.scheduling.conftest import NOW
from tests.scheduling.holds_support import AT, hold, several_setups_at_once  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("several_setups_at_once")

BOOKED_AT = NOW + dt.timedelta(minutes=2)  # within the hold


def _closed_around_the_hold(**where) -> Closure:
    return Closure.objects.create(
        starts_at=AT - dt.timedelta(hours=2), ends_at=AT + dt.timedelta(hours=6), reason="IV pump broken", **where
    )


def _refused(held, clinic) -> BookingConflict:
    with pytest.raises(BookingConflict) as refused:
        appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=BOOKED_AT)
    assert Appointment.objects.get(pk=held.pk).status == AppointmentStatus.HELD
    return refused.value


def test_a_hold_is_not_booked_into_a_chair_taken_out_of_use_since_it_was_held(clinic):
    held = hold(clinic)  # chairs[0] at AT, held until NOW + 10 minutes
    _closed_around_the_hold(site=clinic.site, chair=clinic.chairs[0])

    refused = _refused(held, clinic)

    assert "out of use" in refused.message and "IV pump broken" in refused.message
    assert refused.details["reason"] == "chair_out_of_use"


def test_a_hold_is_not_booked_at_a_site_closed_since_it_was_held(clinic):
    held = hold(clinic)
    _closed_around_the_hold(site=clinic.site)

    refused = _refused(held, clinic)

    assert refused.details["reason"] == "site_closed"


def test_a_hold_is_not_booked_when_every_site_is_closed_since_it_was_held(clinic):
    held = hold(clinic)
    _closed_around_the_hold(site=None)

    assert _refused(held, clinic).details["reason"] == "site_closed"


def test_a_closure_of_the_sites_other_chair_does_not_stop_the_hold(clinic):
    held = hold(clinic)
    _closed_around_the_hold(site=clinic.site, chair=clinic.chairs[1])

    booked = appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=BOOKED_AT)

    assert booked.status == AppointmentStatus.BOOKED


def test_booking_a_hold_among_others_at_the_same_time_counts_the_hold_once(clinic):
    """The hold itself is left out of the check: the nurse's other patients at that time are the
    others held or booked with it, not the hold counted twice."""
    held = hold(clinic)
    hold(clinic, chair=clinic.chairs[1])

    booked = appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=BOOKED_AT)

    assert booked.status == AppointmentStatus.BOOKED


def test_the_set_up_check_keeps_booking_a_hold_to_a_few_queries(clinic, django_assert_max_num_queries):
    """The fresh availability is the held chair and nurse only: a couple of reads more than before."""
    held = hold(clinic)
    with django_assert_max_num_queries(18):
        appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=BOOKED_AT)
