"""A patient's own Appointment/$find never carries a closure's reason, whatever the reason or the
chair's name hold: the engine reads the closures for a patient without their reasons, so there is
nothing to take out of its words afterwards. A reason that is part of another closure's reason, one
with brackets and other regex characters, a chair whose own name has brackets: the patient reads "the
site is closed" and "the chair is out of use (<chair>)", single times and a whole course (with an
open plan and without one). The clinic's staff still read the reasons.

The clock is fixed at the FHIR tests' NOW (Friday 27 February 2026, 15:00 UTC, 10:00 at the clinic)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.interop.fhir_support import find_body, parameters, zulu
from tests.interop.test_fhir_find_closure_reasons import find
from tests.interop.test_fhir_location_out_of_use import at_clinic, close
from tests.scheduling.conftest import START

pytestmark = pytest.mark.django_db

# One reason inside another, with the characters a regular expression reads as its own.
SHORT_REASON = "Kim off"
LONG_REASON = "Kim off (sick) [back Thu?] *call* $1 \\d+ |or| Dr. K."
CHAIR_REASON = "Pump alarm (Mrs Ostrander's infusion): sent back"
CHAIR_NAME = "Chair 1 (by the window)"
# Mon 2 to Wed 4 March at the clinic: find_body's three days there, but the first evening.
CLOSED_FROM, CLOSED_UNTIL = at_clinic(START, 0), at_clinic(START + dt.timedelta(days=3), 0)
# Closures ahead elsewhere in time, with the other reason: the patient's $find does not meet them.
LATER_FROM, LATER_UNTIL = at_clinic(START + dt.timedelta(days=20), 0), at_clinic(START + dt.timedelta(days=21), 0)
REASON_WORDS = ("Kim", "sick", "Pump", "Ostrander", "sent back", "Dr. K")


def course_body(world, patient):
    return parameters(
        ("start", "valueDateTime", zulu(at_clinic(START, 8))),
        ("end", "valueDateTime", zulu(at_clinic(START, 8) + dt.timedelta(days=3))),
        ("visit-type", "valueString", str(world.protocol.pk)),
        ("patient-reference", "valueReference", {"reference": f"Patient/{patient.pk}"}),
        ("course", "valueBoolean", True),
    )


def close_the_site(world, reason: str, other: str) -> None:
    close(site=world.clinic.site, starts_at=CLOSED_FROM, ends_at=CLOSED_UNTIL, reason=reason)
    close(site=world.clinic.site, starts_at=LATER_FROM, ends_at=LATER_UNTIL, reason=other)


def take_the_chairs_out_of_use(world) -> None:
    first = world.clinic.chairs[0]
    first.name = CHAIR_NAME
    first.save(update_fields=["name"])
    for chair in world.clinic.chairs:
        close(site=chair.site, chair=chair, starts_at=CLOSED_FROM, ends_at=CLOSED_UNTIL, reason=CHAIR_REASON)


def assert_no_reason(text: str) -> None:
    for word in REASON_WORDS:
        assert word not in text, text


@pytest.mark.parametrize(("reason", "other"), [(SHORT_REASON, LONG_REASON), (LONG_REASON, SHORT_REASON)])
def test_a_patients_find_over_a_closed_site_never_names_the_reason(world, reason, other):
    close_the_site(world, reason, other)
    body = find_body(world, world.patient_a, days=3)
    assert find(world, "front_desk", body) == f"No free time fits in that window: the site is closed ({reason})."
    mine = find(world, "patient_a", body)
    assert mine == "No free time fits in that window: the site is closed.", mine


def test_a_patients_find_over_chairs_out_of_use_names_the_chair_not_the_reason(world):
    take_the_chairs_out_of_use(world)
    body = find_body(world, world.patient_a, days=3)
    assert f"the chair is out of use ({CHAIR_NAME}: {CHAIR_REASON})" in find(world, "front_desk", body)
    mine = find(world, "patient_a", body)
    assert mine == f"No free time fits in that window: the chair is out of use ({CHAIR_NAME}).", mine


@pytest.mark.parametrize("with_plan", [True, False])
@pytest.mark.parametrize(("reason", "other"), [(SHORT_REASON, LONG_REASON), (LONG_REASON, SHORT_REASON)])
def test_a_patients_course_over_a_closed_site_never_names_the_reason(world, with_plan, reason, other):
    if with_plan:
        world.clinic.plan(patient=world.patient_a)
    close_the_site(world, reason, other)
    body = course_body(world, world.patient_a)
    assert f"the site is closed ({reason})" in find(world, "front_desk", body)
    mine = find(world, "patient_a", body)
    assert "the site is closed" in mine, mine
    assert_no_reason(mine)


@pytest.mark.parametrize("with_plan", [True, False])
def test_a_patients_course_over_chairs_out_of_use_never_names_the_reason(world, with_plan):
    if with_plan:
        world.clinic.plan(patient=world.patient_a)
    take_the_chairs_out_of_use(world)
    # One chair in use at the site, so the course's words name it ("every chair" names none).
    second = world.clinic.chairs[1]
    second.active = False
    second.save(update_fields=["active"])
    body = course_body(world, world.patient_a)
    assert CHAIR_REASON in find(world, "front_desk", body)
    mine = find(world, "patient_a", body)
    assert f"the chair is out of use ({CHAIR_NAME})" in mine, mine
    assert_no_reason(mine)
