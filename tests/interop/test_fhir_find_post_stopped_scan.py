"""A POSTed Appointment/$find whose scan stops short of the window's end (FIND_SCAN_LIMIT free
times, FIND_SCAN_ROUNDS stretches while none fits) after a few proposals fitted must say so: a POST
has no next link, so only its note can tell the integrator that later free times in the window were
never checked and where to $find again from (README: "its note names the start to $find again
from"). Today such an answer holds the few proposals found, no total and no note at all: it reads as
"these are all the times that fit", while the rest of the window's fitting times are silently left out.

Patient B has a session on the first day and no plan (one infusion a day): every free time of the
first day is refused, every one of the second day fits. The scan is set to stop a few free times into
the second day, in its second stretch. The clock is fixed at the FHIR tests' NOW (Friday 27 February 2026, 15:00 UTC)."""

from __future__ import annotations

import pytest

from interop.fhir import operations
from interop.fhir.params import MAX_COUNT
from tests.interop.fhir_support import find_body, frozen, parse, post, proposed, world  # noqa: F401  (fixtures)
from tests.interop.test_fhir_find_nothing_fits import a_single_session, notes_of
from tests.interop.test_fhir_find_scan_on import first_day_free_times
from tests.scheduling.conftest import START

pytestmark = pytest.mark.django_db


def test_a_posted_find_whose_scan_stopped_after_a_few_fits_says_where_to_go_on(world, monkeypatch):  # noqa: F811
    a_single_session(world, world.patient_b, START)
    refused = first_day_free_times(world)
    body = find_body(world, world.patient_b, days=2, count=MAX_COUNT)
    every_fit = proposed(parse(post(world.client("front_desk"), "Appointment/$find", body)))
    assert len(every_fit) > 3  # the second day holds many times that fit (FIND_SCAN_LIMIT as set)
    # The first stretch holds none that fits, the second reaches a few times into the second day,
    # and the scan stops there (9721d42: it goes on past a stretch without a fit, up to the bound).
    limit = refused // 2 + 1
    assert limit < refused < 2 * limit < refused + len(every_fit)
    monkeypatch.setattr(operations, "FIND_SCAN_LIMIT", limit)

    bundle = parse(post(world.client("front_desk"), "Appointment/$find", body))

    shown = proposed(bundle)
    assert 0 < len(shown) < len(every_fit) <= MAX_COUNT
    said = " ".join(note for _code, note in notes_of(bundle))
    assert "$find again with start=" in said, (
        f"{len(shown)} of {len(every_fit)} fitting proposals, total={bundle.total}, and no note says the "
        f"search stopped: {notes_of(bundle)}"
    )
    # Where it stopped: the last free time checked, after the last proposal shown.
    assert "the search stopped" in said and "later free times in the window were not checked" in said, said
    assert f"holds the {len(shown)} proposals that fit" in said, said


def test_a_total_asked_alone_whose_scan_stopped_says_it_counted_only_so_far(world, monkeypatch):  # noqa: F811
    """_count=0 asks for the total alone: when the scan stopped short of the window's end after a few
    fits, the answer gives no total (it is not known) and says how many fit so far and where it stopped."""
    a_single_session(world, world.patient_b, START)
    refused = first_day_free_times(world)
    limit = refused // 2 + 1
    monkeypatch.setattr(operations, "FIND_SCAN_LIMIT", limit)

    bundle = parse(
        post(world.client("front_desk"), "Appointment/$find", find_body(world, world.patient_b, days=2, count=0))
    )

    assert not proposed(bundle) and bundle.total is None
    [(code, said)] = notes_of(bundle)
    assert code == "incomplete", code
    assert "proposals fit among the first" in said and "$find again with start=" in said, said
