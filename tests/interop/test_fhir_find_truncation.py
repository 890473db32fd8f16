"""$find answers at most _count proposals (100, the most, unless asked). When more free times fit the
window than it shows, the Bundle says so: `total` is every proposal that fits, and an OperationOutcome
entry (search mode outcome) says where the list was cut and how to ask for the rest (a later start,
or a larger _count up to the most). A list shown whole says nothing of the kind."""

from __future__ import annotations

import datetime as dt

import pytest

from interop.fhir.params import MAX_COUNT
from tests.interop.fhir_support import find_body, parse, post, proposed

pytestmark = pytest.mark.django_db


def _outcomes(bundle):
    return [e.resource for e in bundle.entry or [] if e.resource.get_resource_type() == "OperationOutcome"]


def test_a_cut_list_states_the_cut_and_counts_every_proposal(world):
    desk = world.client("front_desk")
    whole = parse(post(desk, "Appointment/$find", find_body(world, count=MAX_COUNT)))
    everything = proposed(whole)
    assert 3 < len(everything) < MAX_COUNT, len(everything)  # the fixture's day fits in one answer
    assert whole.total == len(everything)
    assert _outcomes(whole) == []

    cut = parse(post(desk, "Appointment/$find", find_body(world, count=3)))

    shown = proposed(cut)
    assert [p.start for p in shown] == [p.start for p in everything[:3]]
    assert cut.total == len(everything), "total counts the proposals that fit, not only those shown"
    assert not [link for link in cut.link or [] if link.relation == "next"]
    [note] = _outcomes(cut)
    entry = next(e for e in cut.entry if e.resource is note)
    assert entry.search.mode == "outcome"
    issue = note.issue[0]
    assert issue.severity == "warning"
    assert issue.code == "incomplete"
    text = issue.diagnostics
    assert f"the first 3 of {len(everything)}" in text, text
    following = everything[3].start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    assert f"start={following}" in text, text
    assert f"_count up to {MAX_COUNT}" in text, text


def test_a_list_cut_at_the_most_does_not_offer_a_larger_count(world):
    desk = world.client("front_desk")
    cut = parse(post(desk, "Appointment/$find", find_body(world, days=7, count=MAX_COUNT)))

    assert len(proposed(cut)) == MAX_COUNT
    assert cut.total > MAX_COUNT
    [note] = _outcomes(cut)
    assert f"the first {MAX_COUNT} of {cut.total}" in note.issue[0].diagnostics
    assert "_count" not in note.issue[0].diagnostics


def test_a_search_stopped_at_its_scan_limit_claims_no_total(world, monkeypatch):
    # $find works out at most FIND_SCAN_LIMIT free times: past it the count is "at least", and the
    # Bundle states no total rather than a wrong one.
    from interop.fhir import operations

    desk = world.client("front_desk")
    whole = proposed(parse(post(desk, "Appointment/$find", find_body(world, count=MAX_COUNT))))
    limit = 5
    assert len(whole) > limit + 1
    monkeypatch.setattr(operations, "FIND_SCAN_LIMIT", limit)

    cut = parse(post(desk, "Appointment/$find", find_body(world, count=3)))

    assert [p.start for p in proposed(cut)] == [p.start for p in whole[:3]]
    assert cut.total is None
    [note] = _outcomes(cut)
    assert f"the first 3 of at least {limit}" in note.issue[0].diagnostics
