"""README: "Every date a page or the API accepts lies in 2000-2100 (births from 1900; clinic/dates.py):
anything else is a form error or a 400". The FHIR server keeps the same range on every date and
dateTime parameter (searches, $find's window and timing, $book's start): 400, not an empty Bundle
nor a 409."""

from __future__ import annotations

import json

import pytest

from tests.interop.fhir_support import BASE, find_body, outcome_of, parameters, parse, post, proposed, reference, window

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    [
        "Appointment?date=1999-12-31",
        "Appointment?date=ge2150-01-01T00:00:00Z",
        "Appointment?_lastUpdated=gt1850-01-01",
        "Patient?birthdate=1850-01-01",
        "Patient?birthdate=2150-01-01",
        "Slot?service-type={protocol}&start=ge1999-01-01&start=lt1999-01-05",
        "Slot?service-type={protocol}&start=ge2150-01-01T00:00:00Z&start=lt2150-01-05T00:00:00Z",
        "Appointment/$find?start=1999-01-01&end=1999-01-05&visit-type={protocol}",
        "Appointment/$find?start=2150-01-01T00:00:00Z&end=2150-01-05T00:00:00Z&visit-type={protocol}",
    ],
)
def test_a_search_or_find_date_outside_the_clinical_range_is_refused_with_400(world, query):
    """A date search parameter, a Slot window or a $find window outside 2000-2100 (births and
    _lastUpdated: 1900-2100) is refused (400 invalid), not answered with an empty 200 Bundle."""
    response = world.client("front_desk").get(BASE + query.format(protocol=world.protocol.pk))
    assert response.status_code == 400, response.content
    assert outcome_of(response).code == "invalid"


def test_a_sync_since_ever_by_last_updated_is_answered(world):
    """EHRs ask for everything changed "since 1970" to start a sync: that is answered, not refused."""
    response = world.client("front_desk").get(BASE + "Patient?_lastUpdated=ge1970-01-01T00:00:00Z")
    assert response.status_code == 200, response.content
    assert parse(response).total >= 1


@pytest.mark.parametrize(
    "kind,start,end",
    [("valueDate", "1999-01-01", "1999-01-05"), ("valueDateTime", "2150-01-01T00:00:00Z", "2150-01-05T00:00:00Z")],
)
def test_find_by_post_with_a_window_outside_the_clinical_range_is_refused_with_400(world, kind, start, end):
    """$find's start/end as Parameters."""
    body = parameters(("start", kind, start), ("end", kind, end), ("visit-type", "valueString", str(world.protocol.pk)))
    response = post(world.client("front_desk"), "Appointment/$find", body)
    assert response.status_code == 400, response.content


def test_find_timing_bounds_period_outside_the_clinical_range_is_refused_with_400(world):
    """timing.repeat.boundsPeriod dates."""
    start, end = window()
    body = parameters(
        ("start", "valueDateTime", start),
        ("end", "valueDateTime", end),
        ("visit-type", "valueString", str(world.protocol.pk)),
        ("timing", "valueTiming", {"repeat": {"boundsPeriod": {"start": "1999-01-01", "end": "1999-01-02"}}}),
    )
    response = post(world.client("front_desk"), "Appointment/$find", body)
    assert response.status_code == 400, response.content


def test_book_a_new_appointment_in_2150_is_refused_as_invalid_not_as_a_conflict(world):
    """$book appointment-resource (no id) with start in 2150: 400 invalid, not a 409 conflict."""
    desk = world.client("front_desk")
    proposal = proposed(parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, count=1))))[0]
    chair = next(p.actor.reference for p in proposal.participant if p.actor.reference.startswith("Location/chair-"))
    resource = {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2150-03-02T15:00:00Z",
        "serviceType": [{"coding": [{"code": str(world.protocol.pk)}]}],
        "participant": [
            {"actor": {"reference": f"Patient/{world.patient_a.pk}"}, "status": "accepted"},
            {"actor": {"reference": chair}, "status": "accepted"},
        ],
    }
    response = post(desk, "Appointment/$book", parameters(("appointment-resource", "resource", resource)))
    assert response.status_code == 400, response.content
    assert outcome_of(response).code == "invalid"


def test_moving_an_appointment_to_2150_through_book_is_refused_as_invalid_not_as_a_conflict(world):
    """$book appointment-resource with an id and a new start in 2150."""
    desk = world.client("front_desk")
    proposal = proposed(parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, count=1))))[0]
    booked = parse(post(desk, "Appointment/$book", reference("appointment-reference", f"Appointment/{proposal.id}")))
    moved = json.loads(booked.entry[0].resource.model_dump_json())
    moved["start"], moved["end"] = "2150-03-02T15:00:00Z", "2150-03-02T17:00:00Z"
    response = post(desk, "Appointment/$book", parameters(("appointment-resource", "resource", moved)))
    assert response.status_code == 400, response.content
    assert outcome_of(response).code == "invalid"
