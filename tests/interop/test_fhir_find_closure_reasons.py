"""A patient's own Appointment/$find over days the site is closed, or every chair is out of use: its
notes say so without the closure's reason. A closure's reason is free text an administrator typed
("Nurse Kim on sick leave"), which a patient's Schedule leaves out too
(test_fhir_schedule_closure_reasons); the engine's words name it ("the site is closed (…)"), and the
clinic's staff still read them.

The clock is fixed at the FHIR tests' NOW (Friday 27 February 2026, 15:00 UTC, 10:00 at the clinic)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.interop.fhir_support import find_body, parameters, parse, post, proposed, zulu
from tests.interop.test_fhir_location_out_of_use import at_clinic, close
from tests.scheduling.conftest import START

pytestmark = pytest.mark.django_db

SITE_REASON = "Nurse Kim on sick leave (back (probably) on Thursday)"
CHAIR_REASON = "Pump alarm during Mrs Ostrander's infusion"
# Mon 2 to Wed 4 March at the clinic: the whole of find_body's three days there but its first evening.
CLOSED_FROM, CLOSED_UNTIL = at_clinic(START, 0), at_clinic(START + dt.timedelta(days=3), 0)


def notes(bundle) -> str:
    return " ".join(
        e.resource.issue[0].diagnostics or ""
        for e in bundle.entry or []
        if e.resource.get_resource_type() == "OperationOutcome"
    )


def find(world, role: str, body) -> str:
    response = post(world.client(role), "Appointment/$find", body)
    assert response.status_code == 200, response.content
    bundle = parse(response)
    return notes(bundle) if not proposed(bundle) else "proposed: " + notes(bundle)


def test_a_patients_find_says_the_site_is_closed_without_why(world):
    close(site=world.clinic.site, starts_at=CLOSED_FROM, ends_at=CLOSED_UNTIL, reason=SITE_REASON)
    body = find_body(world, world.patient_a, days=3)
    assert find(world, "front_desk", body) == f"No free time fits in that window: the site is closed ({SITE_REASON})."
    assert find(world, "patient_a", body) == "No free time fits in that window: the site is closed."


def test_a_patients_find_says_the_chair_is_out_of_use_without_why(world):
    for chair in world.clinic.chairs:
        close(site=chair.site, chair=chair, starts_at=CLOSED_FROM, ends_at=CLOSED_UNTIL, reason=CHAIR_REASON)
    body = find_body(world, world.patient_a, days=3)
    assert CHAIR_REASON in find(world, "front_desk", body)
    mine = find(world, "patient_a", body)
    assert mine == "No free time fits in that window: the chair is out of use (Chair 1).", mine


def test_a_patients_course_notes_say_the_site_is_closed_without_why(world):
    world.clinic.plan(patient=world.patient_a)
    close(site=None, starts_at=CLOSED_FROM, ends_at=CLOSED_UNTIL, reason=SITE_REASON)  # every site
    body = parameters(
        ("start", "valueDateTime", zulu(at_clinic(START, 8))),
        ("end", "valueDateTime", zulu(at_clinic(START, 8) + dt.timedelta(days=3))),
        ("visit-type", "valueString", str(world.protocol.pk)),
        ("patient-reference", "valueReference", {"reference": f"Patient/{world.patient_a.pk}"}),
        ("course", "valueBoolean", True),
    )
    assert f"the site is closed ({SITE_REASON})" in find(world, "front_desk", body)
    mine = find(world, "patient_a", body)
    assert "the site is closed" in mine and SITE_REASON not in mine and "Nurse Kim" not in mine, mine
