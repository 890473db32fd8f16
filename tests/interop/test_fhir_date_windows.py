"""FHIR calendar days read at the site (f4df611, ade6629): what the callers still get."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.interop.fhir_support import BASE, FHIR_JSON, parameters, parse
from tests.scheduling.conftest import START

pytestmark = pytest.mark.django_db


def _find(world, start, end, *, kind="valueDate", **extra):
    pairs = [
        ("start", kind, start),
        ("end", kind, end),
        ("visit-type", "valueString", str(world.protocol.pk)),
    ]
    pairs += list(extra.get("more", []))
    return world.client("front_desk").post(BASE + "Appointment/$find", parameters(*pairs), content_type=FHIR_JSON)


def test_find_a_31_day_window_of_dates_across_the_autumn_clock_change_is_not_refused(world):
    # 20 Oct - 20 Nov 2026 is 31 calendar days; the New York clocks go back on 1 Nov. Read as UTC
    # days (before the change) it passed check_window; read at the site it is 31 days + 1 hour, and
    # find_free_times' own check_window refuses it after the UTC pre-check let it through.
    response = _find(world, "2026-10-20", "2026-11-20")
    assert response.status_code == 200, response.content


def test_slot_search_a_31_day_window_of_dates_across_the_autumn_clock_change_is_not_refused(world):
    response = world.client("front_desk").get(
        BASE + f"Slot?service-type={world.protocol.pk}&start=ge2026-10-20&start=lt2026-11-20&status=free"
    )
    assert response.status_code == 200, response.content


def test_find_a_date_end_after_a_late_evening_start_at_the_clinic_is_not_refused(world):
    # Start 20:00 New York on 4 March (01:00 UTC on the 5th), end the clinic's 6 March: a 2-day window
    # at the site. The pre-check reads the end date as UTC midnight and only compares; this one passes,
    # the next one (end the 5th, still 4 hours at the site) is refused as "end must be after start".
    response = world.client("front_desk").post(
        BASE + "Appointment/$find",
        parameters(
            ("start", "valueDateTime", "2026-03-04T20:00:00-05:00"),
            ("end", "valueDate", "2026-03-05"),
            ("visit-type", "valueString", str(world.protocol.pk)),
        ),
        content_type=FHIR_JSON,
    )
    assert response.status_code == 200, response.content


def test_a_course_refused_by_a_bounds_period_of_dates_names_the_bounds_in_its_note(world):
    # Same as test_a_course_that_would_end_after_the_bounds_period_is_refused_with_the_reason, with the
    # boundsPeriod end given as a date (ade6629): the note says what timing was asked.
    day = START + dt.timedelta(days=7)
    start = dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
    end = dt.datetime.combine(START + dt.timedelta(days=7), dt.time(), tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
    response = world.client("front_desk").post(
        BASE + "Appointment/$find",
        parameters(
            ("start", "valueDateTime", start),
            ("end", "valueDateTime", end),
            ("visit-type", "valueString", str(world.protocol.pk)),
            ("patient-reference", "valueReference", {"reference": f"Patient/{world.patient_a.pk}"}),
            ("course", "valueBoolean", True),
            ("timing", "valueTiming", {"repeat": {"boundsPeriod": {"end": day.isoformat()}}}),
        ),
        content_type=FHIR_JSON,
    )
    assert response.status_code == 200, response.content
    bundle = parse(response)
    notes = [
        e.resource.issue[0].diagnostics
        for e in bundle.entry or []
        if e.resource.get_resource_type() == "OperationOutcome"
    ]
    assert notes and "after the timing's boundsPeriod end" in notes[0], notes
    # The timing asked is described: with a date end it says "any time", with an instant "within … – …".
    assert "timing asked: any time" not in notes[0], notes[0]
