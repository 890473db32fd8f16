"""A $find by GET has an address, so a cut answer pages as a search does: its Bundle's `next` link
carries a sealed `_page` cursor (interop/fhir/paging.py) holding the place of the last proposal shown,
(start, site, chair), so the next page starts right after it: walking the links shows every proposal
once, none twice and none skipped, though several chairs share a start and the cut falls between
them. The cursor names the query and the user: another user's, or one sent with another query, is a
400. A POSTed $find has no address to page: it keeps its note (tests/interop/test_fhir_find_truncation.py)
and refuses `_page`.

The clock is fixed at the FHIR tests' NOW (Friday 27 February 2026, 15:00 UTC)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest

from interop.fhir.params import MAX_COUNT
from scheduling.services import appointment_book
from tests.interop.fhir_support import BASE, chair_id, find_body, outcome_of, parse, post, proposed, window
from tests.scheduling.conftest import NOW, START, at_new_york

pytestmark = pytest.mark.django_db


def key(proposal) -> tuple:
    return (proposal.start, chair_id(proposal))


def next_link(bundle) -> str | None:
    return next((link.url for link in bundle.link or [] if link.relation == "next"), None)


def local(url: str) -> str:
    return url.removeprefix("http://testserver")


def get_find(world, role: str = "front_desk", *, count: int, patient=None, days: int = 1):
    start, end = window(days=days)
    query = f"start={start}&end={end}&visit-type={world.protocol.pk}&_count={count}"
    if patient is not None:
        query += f"&patient-reference=Patient/{patient.pk}"
    return world.client(role).get(BASE + f"Appointment/$find?{query}")


def walk(world, first, role: str = "front_desk") -> list:
    """Every proposal of the pages from `first` on, following the next links."""
    shown, bundle = [], parse(first)
    while True:
        shown += proposed(bundle)
        url = next_link(bundle)
        if url is None:
            return shown
        response = world.client(role).get(local(url))
        assert response.status_code == 200, response.content
        bundle = parse(response)


def every_proposal(world, patient=None) -> list:
    return proposed(
        parse(post(world.client("front_desk"), "Appointment/$find", find_body(world, patient, count=MAX_COUNT)))
    )


@pytest.mark.parametrize("with_patient", [False, True])
def test_walking_the_next_links_shows_every_proposal_exactly_once(world, with_patient):
    patient = world.patient_a if with_patient else None
    everything = every_proposal(world, patient)
    assert 6 < len(everything) < MAX_COUNT
    # Several chairs at one start, so a cut can fall between proposals of one start.
    assert max(Counter(p.start for p in everything).values()) > 1

    first = get_find(world, count=3, patient=patient)
    assert parse(first).total == len(everything)
    walked = walk(world, first)

    assert [key(p) for p in walked] == [key(p) for p in everything]
    assert len(set(map(key, walked))) == len(walked)


def test_a_cut_between_chairs_of_one_start_continues_with_the_next_chair(world):
    everything = every_proposal(world)
    # A page size that cuts between two proposals of the same start.
    count = next(i for i in range(1, len(everything)) if everything[i - 1].start == everything[i].start)
    first = parse(get_find(world, count=count))
    assert [key(p) for p in proposed(first)] == [key(p) for p in everything[:count]]
    second = parse(world.client("front_desk").get(local(next_link(first))))
    assert key(proposed(second)[0]) == key(everything[count])


def test_the_pages_cover_every_proposal_past_the_scan_limit(world, monkeypatch):
    from interop.fhir import operations

    everything = every_proposal(world)
    monkeypatch.setattr(operations, "FIND_SCAN_LIMIT", 4)
    first = get_find(world, count=3)
    assert parse(first).total is None  # the first 4 free times were worked out: no total claimed
    assert [key(p) for p in walk(world, first)] == [key(p) for p in everything]


def test_the_last_page_has_no_next_link_and_a_whole_answer_none_at_all(world):
    everything = every_proposal(world)
    whole = parse(get_find(world, count=MAX_COUNT))
    assert len(proposed(whole)) == len(everything) and next_link(whole) is None
    pages = []
    bundle = parse(get_find(world, count=len(everything) - 1))
    pages.append(bundle)
    pages.append(parse(world.client("front_desk").get(local(next_link(bundle)))))
    assert len(proposed(pages[1])) == 1 and next_link(pages[1]) is None


def test_a_cut_get_says_to_follow_the_next_link(world):
    bundle = parse(get_find(world, count=3))
    [note] = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "OperationOutcome"]
    assert note.issue[0].code == "incomplete"
    assert "next link" in note.issue[0].diagnostics
    assert "start=" not in note.issue[0].diagnostics


def test_a_cursor_of_another_user_or_another_query_is_refused(world):
    url = next_link(parse(get_find(world, count=3)))
    assert url is not None
    # Another user (the same query).
    other = world.client("prescriber").get(local(url))
    assert other.status_code == 400 and outcome_of(other).code == "invalid"
    # Another query (another end), the same user.
    split = urlsplit(url)
    params = parse_qs(split.query)
    params["end"] = [window(days=2)[1]]
    query = "&".join(f"{name}={value}" for name, values in params.items() for value in values)
    changed = world.client("front_desk").get(local(f"{split.scheme}://{split.netloc}{split.path}?{query}"))
    assert changed.status_code == 400 and outcome_of(changed).code == "invalid"
    # Not one of ours.
    forged = world.client("front_desk").get(
        BASE + f"Appointment/$find?start={window()[0]}&end={window()[1]}&visit-type={world.protocol.pk}&_page=abc"
    )
    assert forged.status_code == 400


def test_a_posted_find_has_no_next_link_and_refuses_a_page_cursor(world):
    desk = world.client("front_desk")
    bundle = parse(post(desk, "Appointment/$find", find_body(world, count=3)))
    assert next_link(bundle) is None
    body = json.loads(find_body(world, count=3))
    body["parameter"].append({"name": "_page", "valueString": "abc"})
    refused = post(desk, "Appointment/$find", json.dumps(body))
    assert refused.status_code == 400 and outcome_of(refused).code == "not-supported"


def notes_of(bundle) -> list[str]:
    return [
        e.resource.issue[0].diagnostics or ""
        for e in bundle.entry or []
        if e.resource.get_resource_type() == "OperationOutcome"
    ]


def test_the_last_page_of_a_walk_says_no_more_proposals_not_that_nothing_fits(world, monkeypatch):
    """Patient B has a session on the second day, and without a plan a patient has one infusion a
    day: every free time of that day fails their rules. The walk shows the first day's proposals;
    the last page, past them, shows none, and says there are no more after the previous page (and
    which rule refused the rest), not that nothing fits the window the earlier pages filled."""
    from interop.fhir import operations

    clinic = world.clinic
    appointment_book(
        patient=world.patient_b,
        plan=None,
        site=clinic.site,
        starts_at=at_new_york(START + dt.timedelta(days=1), 10),
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    monkeypatch.setattr(operations, "FIND_SCAN_LIMIT", 30)  # a short walk: pages past the first day
    bundle = parse(get_find(world, count=MAX_COUNT, patient=world.patient_b, days=2))
    shown = len(proposed(bundle))
    while (url := next_link(bundle)) is not None:
        bundle = parse(world.client("front_desk").get(local(url)))
        shown += len(proposed(bundle))

    assert shown > 0 and not proposed(bundle)
    [note] = notes_of(bundle)
    assert note.startswith("No more proposals after the previous page"), note
    assert "No free time fits" not in note
    # No plan: the rule that refused the rest is one infusion a day, not a plan's rules.
    assert "one infusion a day" in note and "plan's rules" not in note, note


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_count_zero_answers_the_total_alone_without_saying_nothing_fits(world, method):
    """_count=0 asks for the total alone (FHIR search's count-only idiom): the Bundle counts what
    fits and holds no entry, neither proposals nor a note that nothing fits."""
    desk = world.client("front_desk")
    response = (
        get_find(world, count=0) if method == "GET" else post(desk, "Appointment/$find", find_body(world, count=0))
    )
    bundle = parse(response)
    assert bundle.total == len(every_proposal(world)) > 0
    assert not bundle.entry, notes_of(bundle)
    assert next_link(bundle) is None


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_count_zero_for_a_patient_nothing_fits_counts_none_and_says_so(world, method):
    """A count-only $find for a patient whose rules refuse every free time counts 0 and says why."""
    clinic = world.clinic
    appointment_book(
        patient=world.patient_b,
        plan=None,
        site=clinic.site,
        starts_at=at_new_york(START, 10),
        chair=clinic.chairs[0],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    desk = world.client("front_desk")
    response = (
        get_find(world, count=0, patient=world.patient_b)
        if method == "GET"
        else post(desk, "Appointment/$find", find_body(world, world.patient_b, count=0))
    )
    bundle = parse(response)
    assert bundle.total == 0 and not proposed(bundle)
    [note] = notes_of(bundle)
    assert note.startswith("No free time fits in that window") and "one infusion a day" in note, note
