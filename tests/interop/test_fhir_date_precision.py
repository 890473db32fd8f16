"""FHIR R4 search, date parameters (https://hl7.org/fhir/R4/search.html#date): "Any degree of
precision can be provided, but it SHALL be populated from the left". A month (`2026-03`) or a year
(`1980`) is a valid value and stands for that whole period, at the clinic as a full date is (the
calendar days where the session's site is); the prefixes compare with that whole range: eq within
it, ge from its start, gt after its end, le to its end, lt before its start. `$find`'s start and
end read a month or a year as its first day, a timing boundsPeriod's end as its last (a Period
includes its end)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from scheduling.models import Appointment, AppointmentStatus
from tests.factories import PatientFactory
from tests.interop.fhir_support import BASE, FHIR_JSON, outcome_of, parameters, parse, post, proposed

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def _session(world, starts_at: dt.datetime) -> Appointment:
    clinic = world.clinic
    return Appointment.objects.create(
        patient=world.patient_a,
        site=clinic.site,
        chair=clinic.chairs[0],
        nurse=clinic.nurses[0],
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(hours=2),
        status=AppointmentStatus.BOOKED,
    )


@pytest.fixture
def around_march(world) -> dict[str, Appointment]:
    """Sessions at the edges of March on the New York clinic's clock: the last evening of February
    (already 1 March in UTC), the last evening of March (already 1 April in UTC), and 1 April."""
    return {
        "february": _session(world, dt.datetime(2026, 2, 28, 21, tzinfo=NEW_YORK)),
        "march": _session(world, dt.datetime(2026, 3, 31, 21, tzinfo=NEW_YORK)),
        "april": _session(world, dt.datetime(2026, 4, 1, 10, tzinfo=NEW_YORK)),
    }


def _found(world, query: str) -> list[str]:
    response = world.client("front_desk").get(BASE + query)
    assert response.status_code == 200, response.content[:300]
    return sorted(e["resource"]["id"] for e in json.loads(response.content).get("entry", []))


@pytest.mark.parametrize(
    ("value", "months"),
    [
        ("2026-03", ["march"]),
        ("eq2026-03", ["march"]),
        ("ge2026-03", ["march", "april"]),
        ("gt2026-03", ["april"]),
        ("le2026-03", ["february", "march"]),
        ("lt2026-03", ["february"]),
        ("2026", ["february", "march", "april"]),
        ("gt2026", []),
    ],
)
def test_appointment_search_by_a_month_or_a_year_compares_with_the_whole_period_at_the_clinic(
    world, around_march, value, months
):
    expected = sorted(str(around_march[month].pk) for month in months)
    assert _found(world, f"Appointment?date={value}") == expected


def test_patient_search_by_birth_year_and_month_finds_those_born_then(world):
    january_1980 = PatientFactory(home_site=world.clinic.site, mrn="MRN-1980-01", date_of_birth=dt.date(1980, 1, 1))
    december_1980 = PatientFactory(home_site=world.clinic.site, mrn="MRN-1980-12", date_of_birth=dt.date(1980, 12, 31))
    PatientFactory(home_site=world.clinic.site, mrn="MRN-1981", date_of_birth=dt.date(1981, 1, 1))
    assert _found(world, "Patient?birthdate=1980") == sorted([str(january_1980.pk), str(december_1980.pk)])
    assert _found(world, "Patient?birthdate=1980-12") == [str(december_1980.pk)]


def test_last_updated_by_a_month_is_answered(world, around_march):
    # Every row of the fixture was written at the frozen clock (27 February 2026).
    assert len(_found(world, "Appointment?_lastUpdated=ge2026-02")) == 3
    assert _found(world, "Appointment?_lastUpdated=ge2026-03") == []


@pytest.mark.parametrize(
    ("value", "said"),
    [("2150", "Must be between"), ("2026-13", "is not a FHIR date"), ("2026-3", "is not a FHIR date")],
)
def test_a_partial_date_out_of_range_or_malformed_is_refused_in_words(world, value, said):
    response = world.client("front_desk").get(BASE + f"Appointment?date={value}")
    assert response.status_code == 400
    assert said in outcome_of(response).diagnostics


def _find(world, start: str, end: str, *more):
    body = parameters(
        ("start", "valueDate", start),
        ("end", "valueDate", end),
        ("visit-type", "valueString", str(world.protocol.pk)),
        ("_count", "valueInteger", 100),
        *more,
    )
    return post(world.client("front_desk"), "Appointment/$find", body)


def _local_days(response) -> set[dt.date]:
    assert response.status_code == 200, response.content[:300]
    return {a.start.astimezone(NEW_YORK).date() for a in proposed(parse(response))}


def test_find_from_a_month_starts_on_its_first_day(world):
    # March 2026 to the start of Wednesday 4 March: Sunday 1 March is closed, so Monday 2 and Tuesday 3.
    days = _local_days(_find(world, "2026-03", "2026-03-04"))
    assert days == {dt.date(2026, 3, 2), dt.date(2026, 3, 3)}, days


def test_find_with_a_bounds_period_ending_in_a_month_keeps_that_months_last_days(world):
    timing = ("timing", "valueTiming", {"repeat": {"boundsPeriod": {"end": "2026-03"}}})
    days = _local_days(_find(world, "2026-03-30", "2026-04-03", timing))
    assert days == {dt.date(2026, 3, 30), dt.date(2026, 3, 31)}, days


def test_find_with_a_start_given_as_a_year_month_text_on_get_is_answered(world):
    response = world.client("front_desk").get(
        BASE + f"Appointment/$find?start=2026-03&end=2026-03-04&visit-type={world.protocol.pk}",
        HTTP_ACCEPT=FHIR_JSON,
    )
    assert _local_days(response) == {dt.date(2026, 3, 2), dt.date(2026, 3, 3)}
