"""The free-slot finder when moving a session (exclude_id) at a level-loading site."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.services import appointment_book
from scheduling.services.slot_finder import find_free_slots, suggested
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, make_clinic

TUESDAY = dt.date(2026, 3, 3)


@pytest.mark.django_db
def test_the_finder_does_not_suggest_moving_a_session_to_the_time_it_already_has():
    clinic = make_clinic(placement_policy="level", chairs=2, nurses=1)
    patient = PatientFactory(home_site=clinic.site)
    session = appointment_book(
        patient=patient,
        site=clinic.site,
        starts_at=dt.datetime.combine(TUESDAY, dt.time(8), tzinfo=clinic.site.zone),
        actor=clinic.front_desk.user,
        now=NOW,
    )

    days = find_free_slots(
        site=clinic.site,
        patient=patient,
        first_day=TUESDAY,
        last_day=TUESDAY + dt.timedelta(days=2),
        duration=session.ends_at - session.starts_at,
        route="iv",
        now=NOW,
        exclude_id=session.pk,
    )

    choice = suggested(days)
    assert choice is not None
    assert choice.slot.start != session.starts_at, "the suggested new time is the session's current time"
