"""A booking that names no chair or nurse, at a time no nurse is on shift, says why: on a day the
site never opens, that the site is closed (as when a chair and nurse are named), not that no nurse
works at the site; on an open day without a nurse on shift, that none is on shift then."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling import services
from scheduling.errors import BookingConflict
from tests.scheduling.conftest import NOW, START, at_new_york, make_clinic

pytestmark = pytest.mark.django_db

# make_clinic(days=14) gives the nurse shifts from 23 Feb to 8 Mar only.
SUNDAY = START + dt.timedelta(days=13)  # Sun 15 Mar: the site is closed on Sundays
MONDAY = START + dt.timedelta(days=14)  # Mon 16 Mar: open, no nurse on shift


def _book_leaving_chair_and_nurse_to_the_site(clinic, day):
    plan = clinic.plan()
    with pytest.raises(BookingConflict) as refused:
        services.appointment_book(
            patient=plan.patient,
            plan=plan,
            site=clinic.site,
            starts_at=at_new_york(day, 10),
            actor=clinic.front_desk.user,
            now=NOW,
        )
    return refused.value


@pytest.mark.parametrize("policy", ["earliest", "level"])
def test_a_day_the_site_never_opens_is_refused_as_closed(policy):
    clinic = make_clinic(days=14, placement_policy=policy)
    assert SUNDAY.weekday() == 6
    refused = _book_leaving_chair_and_nurse_to_the_site(clinic, SUNDAY)
    assert refused.details["reason"] == "site_closed", refused.message
    assert "the site is closed that day" in refused.message


@pytest.mark.parametrize("policy", ["earliest", "level"])
def test_an_open_day_without_a_nurse_on_shift_says_so(policy):
    clinic = make_clinic(days=14, placement_policy=policy)
    refused = _book_leaving_chair_and_nurse_to_the_site(clinic, MONDAY)
    assert refused.details["reason"] == "nurse_off_shift", refused.message
    assert "no nurse is on shift at this site then" in refused.message
