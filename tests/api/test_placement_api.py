"""The API under a site's level placement policy: proposals and free slots say why."""

from __future__ import annotations

import pytest

from tests.api.conftest import World

V1 = "/api/v1"


@pytest.fixture
def level_world(world: World) -> World:
    world.site.placement_policy = "level"
    world.site.save(update_fields=["placement_policy"])
    return world


def test_the_api_proposal_says_why_and_books_as_given_back(level_world):
    client = level_world.client("front_desk")
    plan = level_world.draft_plan
    proposal = client.post(f"{V1}/plans/{plan.pk}/propose-course/", {"start_date": "2026-03-09"}, format="json")
    assert proposal.status_code == 200, proposal.json()
    sessions = proposal.json()["sessions"]
    assert all(session["why"] for session in sessions)
    booked = client.post(
        f"{V1}/plans/{plan.pk}/book-course/",
        {"sessions": sessions},
        format="json",
        HTTP_IDEMPOTENCY_KEY="level-why-1",
    )
    assert booked.status_code == 201, booked.json()


def test_the_free_slots_api_suggests_one_slot_with_why(level_world):
    response = level_world.client("front_desk").get(
        f"{V1}/sites/{level_world.site.pk}/free-slots/",
        {"start_date": "2026-03-10", "end_date": "2026-03-10", "duration_minutes": 120},
    )
    body = response.json()
    assert response.status_code == 200
    suggestion = body["suggested"]
    assert suggestion["why"] and {"starts_at", "chair", "nurse"} <= set(suggestion)
    assert (suggestion["starts_at"], suggestion["chair"]) in {(s["starts_at"], s["chair"]) for s in body["slots"]}
