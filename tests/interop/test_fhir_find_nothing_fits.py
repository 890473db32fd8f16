"""When a $find for a patient proposes nothing though there were free times, its note names the rule
that refused them as the booking checks it (scheduling's session_rule_violations): under an open plan
for the protocol the plan's rules; without one, one infusion a day. When the search stopped at its scan
limit (FIND_SCAN_LIMIT free times) before anything fitted, the note says how far it looked and where
to go on, rather than that nothing fits the window; a GET's page says the same in its cut note and
goes on by its next link.

The clock is fixed at the FHIR tests' NOW (Friday 27 February 2026, 15:00 UTC)."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.services import appointment_book
from tests.interop.fhir_support import BASE, find_body, parse, post, proposed, window
from tests.scheduling.conftest import NOW, START, at_new_york

pytestmark = pytest.mark.django_db


def notes_of(bundle) -> list[tuple[str, str]]:
    """(code, diagnostics) of each OperationOutcome entry."""
    return [
        (e.resource.issue[0].code, e.resource.issue[0].diagnostics or "")
        for e in bundle.entry or []
        if e.resource.get_resource_type() == "OperationOutcome"
    ]


def a_single_session(world, patient, day: dt.date) -> None:
    clinic = world.clinic
    appointment_book(
        patient=patient,
        plan=None,
        site=clinic.site,
        starts_at=at_new_york(day, 10),
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )


def test_without_a_plan_the_note_names_one_infusion_a_day(world):
    a_single_session(world, world.patient_b, START)
    bundle = parse(post(world.client("front_desk"), "Appointment/$find", find_body(world, world.patient_b, count=5)))
    assert not proposed(bundle)
    [(code, note)] = notes_of(bundle)
    assert code == "informational"
    assert note.startswith("No free time fits in that window"), note
    assert "one infusion a day" in note and "no open plan" in note and "plan's rules" not in note, note


def test_under_a_plan_the_note_names_the_plans_rules(world):
    plan = world.clinic.plan(patient=world.patient_b)
    world.clinic.book(plan, [at_new_york(START, 10)])
    bundle = parse(post(world.client("front_desk"), "Appointment/$find", find_body(world, world.patient_b, count=5)))
    assert not proposed(bundle)
    [(_, note)] = notes_of(bundle)
    assert note.startswith("No free time fits in that window") and "the plan's rules" in note, note
    assert "no open plan" not in note


def test_a_search_stopped_at_its_scan_limit_does_not_say_nothing_fits_the_window(world, monkeypatch):
    """The first day's free times all fail patient B's rules; the second day's fit. A search that
    stopped within the first day (at FIND_SCAN_ROUNDS stretches of FIND_SCAN_LIMIT free times, the
    most one request checks while none fits) says how far it looked and where to go on."""
    from interop.fhir import operations
    from interop.fhir.params import FIND_SCAN_ROUNDS

    a_single_session(world, world.patient_b, START)
    limit = 5
    monkeypatch.setattr(operations, "FIND_SCAN_LIMIT", limit)
    desk = world.client("front_desk")

    posted = parse(post(desk, "Appointment/$find", find_body(world, world.patient_b, days=2, count=5)))
    assert not proposed(posted) and posted.total is None
    [(code, note)] = notes_of(posted)
    assert "No free time fits" not in note, note
    assert f"the first {limit * FIND_SCAN_ROUNDS} free times" in note and "one infusion a day" in note, note
    assert "$find again with start=" in note, note

    start, end = window(days=2)
    got = parse(
        desk.get(
            BASE + f"Appointment/$find?start={start}&end={end}&visit-type={world.protocol.pk}&_count=5"
            f"&patient-reference=Patient/{world.patient_b.pk}"
        )
    )
    assert not proposed(got) and any(link.relation == "next" for link in got.link or [])
    [(code, note)] = notes_of(got)
    assert code == "incomplete" and "No free time fits" not in note, note
    assert "holds no proposals" in note and "one infusion a day" in note and "next link" in note, note
    assert "after the last proposal shown" not in note, note
