"""The free-slot finder (the desk's booking and move pages) at a level-loaded site lists each time
with the chair level placement gives it: the desk books the chair listed, so a list of first free
chairs would book off the day template. An earliest site keeps the first free chair."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduling.engine.placement import EARLIEST, LEVEL
from scheduling.models import DayTemplate, DayTemplateState
from scheduling.services.slot_finder import find_free_slots
from tests.factories import AppointmentFactory, PatientFactory
from tests.scheduling.conftest import NOW, START, Clinic, at_new_york, make_clinic

pytestmark = pytest.mark.django_db


def _template(clinic: Clinic) -> None:
    """A day template starting Chair 2 at 10:00 and Chair 3 at 14:00."""
    _one, two, three = clinic.chairs
    DayTemplate.objects.create(
        site=clinic.site,
        state=DayTemplateState.DONE,
        starts=[
            {"chair_id": two.pk, "start": "10:00", "protocol_id": clinic.protocol.pk},
            {"chair_id": three.pk, "start": "14:00", "protocol_id": clinic.protocol.pk},
        ],
        sessions_per_day=2,
        requested_at=NOW,
        computed_at=NOW,
    )


def _listed(clinic: Clinic, *, last_day: dt.date = START) -> dict[dt.time, object]:
    days = find_free_slots(
        site=clinic.site,
        patient=PatientFactory(home_site=clinic.site),
        first_day=START,
        last_day=last_day,
        duration=dt.timedelta(minutes=120),
        route="iv",
        now=NOW,
    )
    return {
        choice.slot.start.astimezone(clinic.site.zone).time(): choice
        for day in days
        for choice in day.choices
        if choice.slot.start.astimezone(clinic.site.zone).date() == START
    }


def test_each_listed_time_at_a_level_site_names_the_chair_level_placement_gives_it():
    # A level site whose day template starts Chair 2 at 10:00 and Chair 3 at 14:00, on an empty
    # Monday. The finder suggests 10:00 in Chair 2; a desk picking 14:00 instead books the chair
    # listed with it, which was Chair 1 (the first free one), off the template.
    clinic = make_clinic(placement_policy=LEVEL)
    _template(clinic)
    one, two, three = clinic.chairs

    by_time = _listed(clinic)

    assert by_time[dt.time(10)].why and by_time[dt.time(10)].slot.chair_id == two.pk  # the suggested one
    assert by_time[dt.time(14)].slot.chair_id == three.pk, "14:00 is listed in Chair 1, not the template's Chair 3"
    assert not by_time[dt.time(14)].why
    # Off the template's starts the chairs tie on everything but their id, as level places them.
    assert by_time[dt.time(12)].slot.chair_id == one.pk
    # The template's starts are marked, as the board stars them; no other time is.
    assert {clock for clock, choice in by_time.items() if choice.preferred} == {dt.time(10), dt.time(14)}


def test_an_earliest_site_keeps_listing_each_time_with_its_first_free_chair():
    clinic = make_clinic(placement_policy=EARLIEST)
    _template(clinic)
    one = clinic.chairs[0]

    by_time = _listed(clinic)

    assert {choice.slot.chair_id for choice in by_time.values()} == {one.pk}
    assert not any(choice.preferred for choice in by_time.values())  # earliest weighs no template
    assert by_time[dt.time(8)].why  # the earliest time is the suggested one


def test_listing_the_level_chairs_reads_no_more_for_a_longer_search():
    # The chairs come from one scoring over the one snapshot: no query per time or per day.
    clinic = make_clinic(placement_policy=LEVEL)
    _template(clinic)
    _listed(clinic)  # the first use on this connection prepares the hot reads
    with CaptureQueriesContext(connection) as one_day:
        _listed(clinic)
    with CaptureQueriesContext(connection) as a_week:
        _listed(clinic, last_day=START + dt.timedelta(days=6))
    # Each search makes its patient: the same inserts in both.
    assert len(a_week) == len(one_day)


def test_a_suggestion_on_a_later_day_than_the_first_searched_says_its_day_is_the_quietest_searched():
    # The desk searches from Monday, two chairs of three busy most of the day, to Tuesday, empty:
    # level suggests Tuesday, and says that is why Monday, the day asked from, was passed over.
    clinic = make_clinic(placement_policy=LEVEL)
    one, two, _three = clinic.chairs
    for chair, hour in ((one, 9), (two, 10)):
        AppointmentFactory(
            chair=chair, nurse=clinic.nurses[0], starts_at=at_new_york(START, hour), ends_at=at_new_york(START, 18)
        )
    days = find_free_slots(
        site=clinic.site,
        patient=PatientFactory(home_site=clinic.site),
        first_day=START,
        last_day=START + dt.timedelta(days=1),
        duration=dt.timedelta(minutes=120),
        route="iv",
        now=NOW,
    )

    suggested = [choice for day in days for choice in day.choices if choice.why]
    assert len(suggested) == 1
    assert suggested[0].slot.start.astimezone(clinic.site.zone).date() == START + dt.timedelta(days=1)
    assert "the quietest day searched (0% of chair time booked)" in str(suggested[0].why)
