"""A $find whose first FIND_SCAN_LIMIT free times all fail the patient's rules goes on checking the
next ones, FIND_SCAN_LIMIT at a time, up to FIND_SCAN_ROUNDS stretches in one request (its work stays
bounded), until one fits or the window ends: a GET's page then shows proposals rather than none and a
next link. Walking the links still shows every proposal once, none skipped; past the bound the page is
empty, says how many free times it checked, and its next link goes on after the last of them.

Patient B has a session on the first day and no plan: one infusion a day, so every free time of the
first day fails their rules, and the second day's fit.

The clock is fixed at the FHIR tests' NOW (Friday 27 February 2026, 15:00 UTC)."""

from __future__ import annotations

import pytest

from interop.fhir import operations
from interop.fhir.params import FIND_SCAN_ROUNDS, MAX_COUNT
from tests.interop.fhir_support import BASE, chair_id, find_body, parse, post, proposed, window
from tests.interop.test_fhir_find_nothing_fits import a_single_session, notes_of
from tests.scheduling.conftest import START

pytestmark = pytest.mark.django_db


def key(proposal) -> tuple:
    return (proposal.start, chair_id(proposal))


def next_link(bundle) -> str | None:
    return next((link.url for link in bundle.link or [] if link.relation == "next"), None)


def get_find(world, patient, *, count: int, days: int = 2):
    start, end = window(days=days)
    query = (
        f"start={start}&end={end}&visit-type={world.protocol.pk}&_count={count}&patient-reference=Patient/{patient.pk}"
    )
    response = world.client("front_desk").get(BASE + f"Appointment/$find?{query}")
    assert response.status_code == 200, response.content
    return parse(response)


def walk(world, bundle) -> tuple[list, list]:
    """Every proposal of the pages from `bundle` on, and the pages."""
    shown, pages = [], [bundle]
    while True:
        shown += proposed(bundle)
        url = next_link(bundle)
        if url is None:
            return shown, pages
        response = world.client("front_desk").get(url.removeprefix("http://testserver"))
        assert response.status_code == 200, response.content
        bundle = parse(response)
        pages.append(bundle)


def first_day_free_times(world) -> int:
    """How many free times the first day has, patient B's session there taken (without a patient
    every free time is a proposal)."""
    bundle = parse(post(world.client("front_desk"), "Appointment/$find", find_body(world, count=MAX_COUNT)))
    assert len(proposed(bundle)) == bundle.total < MAX_COUNT
    return bundle.total


def test_a_page_goes_on_past_a_stretch_of_refused_times_to_the_first_that_fits(world, monkeypatch):
    a_single_session(world, world.patient_b, START)
    refused = first_day_free_times(world)
    assert FIND_SCAN_ROUNDS >= 2
    # The first day's refused times fill more than one stretch, and fewer than the bound.
    limit = refused // 2 + 1
    assert limit < refused < limit * FIND_SCAN_ROUNDS
    fitting = proposed(
        parse(
            post(
                world.client("front_desk"),
                "Appointment/$find",
                find_body(world, world.patient_b, days=2, count=MAX_COUNT),
            )
        )
    )
    assert 3 < len(fitting) < MAX_COUNT  # every time that fits (FIND_SCAN_LIMIT as set)
    assert all(p.start.date() > START for p in fitting)
    monkeypatch.setattr(operations, "FIND_SCAN_LIMIT", limit)

    first = get_find(world, world.patient_b, count=3)
    assert [key(p) for p in proposed(first)] == [key(p) for p in fitting[:3]]
    [(code, note)] = notes_of(first)
    assert code == "incomplete" and "holds 3 proposals" in note, note
    walked, pages = walk(world, first)
    assert [key(p) for p in walked] == [key(p) for p in fitting]
    # Each page but a last one that says nothing more fits shows a proposal.
    assert all(proposed(page) for page in pages[:-1])


def test_past_the_bound_a_page_is_empty_and_says_how_far_it_checked(world, monkeypatch):
    a_single_session(world, world.patient_b, START)
    refused = first_day_free_times(world)
    limit = max(1, refused // (FIND_SCAN_ROUNDS + 1))
    assert limit * FIND_SCAN_ROUNDS < refused
    monkeypatch.setattr(operations, "FIND_SCAN_LIMIT", limit)

    first = get_find(world, world.patient_b, count=3)
    assert not proposed(first) and next_link(first) is not None
    [(code, note)] = notes_of(first)
    assert code == "incomplete" and "holds no proposals" in note, note
    assert f"the first {limit * FIND_SCAN_ROUNDS} free times" in note and "one infusion a day" in note, note
    # The link goes on after the last time checked: the walk still reaches every time that fits.
    walked, _ = walk(world, first)
    assert walked and all(p.start.date() > START for p in walked)
    assert len({key(p) for p in walked}) == len(walked)

    posted = parse(post(world.client("front_desk"), "Appointment/$find", find_body(world, world.patient_b, days=2)))
    assert not proposed(posted)
    [(_, said)] = notes_of(posted)
    assert f"The search stopped at {limit * FIND_SCAN_ROUNDS} free times without a proposal" in said, said
