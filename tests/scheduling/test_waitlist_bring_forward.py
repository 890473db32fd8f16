"""An entry that brings a later session forward must never push that session later: if the desk has
already moved it before the freed time, accepting the old offer must not move it back."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduling import services
from scheduling.errors import InvalidState
from scheduling.models import WaitlistOffer
from scheduling.services.waitlist import waitlist_add, waitlist_offer_accept
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

FREED_AT = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)  # Tue 3 March, 10:00 New York
LATER = dt.datetime(2026, 3, 20, 14, tzinfo=dt.UTC)  # Fri 20 March, 10:00 New York
EARLIER = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)  # Mon 2 March, 10:00 New York


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=True):
        yield


def test_accepting_an_old_offer_does_not_move_a_session_that_is_already_earlier_to_a_later_time(
    clinic, django_capture_on_commit_callbacks
):
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
        patient=patient, site=clinic.site, earliest_date=dt.date(2026, 3, 2), replaces=later, actor=desk, now=NOW
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=freed, actor=desk, reason="Flu", now=NOW)
    offer = WaitlistOffer.objects.get(entry=entry)
    # Meanwhile the patient phoned and the desk found them an even earlier time.
    services.appointment_move(appointment=later, starts_at=EARLIER, chair=clinic.chairs[1], actor=desk, now=NOW)

    with pytest.raises(InvalidState, match="already on Mon 2 Mar 2026 10:00; nothing was changed"):
        waitlist_offer_accept(offer=offer, actor=None, now=NOW)
    later.refresh_from_db()
    assert later.starts_at == EARLIER, (
        f"'bring forward' moved the session from Mon 2 Mar to {later.starts_at:%a %-d %b} (later)"
    )
