"""If-Match on the plan endpoints, read as RFC 9110 has it (§13.1.1, §8.8.3.2, §5.6.1.2): a weak tag
never matches, an action that does not read the header refuses it, empty list elements are ignored."""

from __future__ import annotations

from scheduling.models import Appointment

V1 = "/api/v1"


def test_a_weak_tag_in_if_match_never_matches(world):
    """RFC 9110 §13.1.1: "An origin server MUST use the strong comparison function when comparing
    entity tags for If-Match"; a weak tag never matches strongly (§8.8.3.2), so the change must not
    be made (412 or the service's stale-version refusal), even when the number is the current one."""
    plan = world.plan_b
    response = world.client("prescriber").post(
        f"{V1}/plans/{plan.pk}/pause/", {"reason": "Travel"}, format="json", HTTP_IF_MATCH=f'W/"{plan.version}"'
    )
    plan.refresh_from_db()
    assert response.status_code in (409, 412), (response.status_code, response.content[:300])
    assert plan.status != "paused"


def test_a_stale_if_match_on_book_course_is_not_ignored(world):
    """ClinicAPIMixin.honours_if_match: a write sent with If-Match is evaluated or refused (412),
    never "applied as if the condition held" (RFC 9110 §13.1.1: the method MUST NOT be performed
    when the condition is false). PlanViewSet honours it for the whole viewset, yet book-course
    never reads it: a stale tag books the course anyway."""
    plan = world.draft_plan
    stale = f'"{plan.version + 7}"'
    response = world.client("front_desk").post(
        f"{V1}/plans/{plan.pk}/book-course/", {"start_date": "2026-03-09"}, format="json", HTTP_IF_MATCH=stale
    )
    assert response.status_code in (409, 412), (response.status_code, response.content[:300])
    assert not Appointment.objects.filter(plan=plan).exists()


def test_an_empty_element_in_an_if_match_list_is_ignored(world):
    """RFC 9110 §5.6.1.2: a recipient of a #list field "MUST parse and ignore a reasonable number
    of empty list elements"; `"3", ` is the list ("3"), which holds for version 3."""
    plan = world.plan_b
    response = world.client("prescriber").post(
        f"{V1}/plans/{plan.pk}/pause/", {"reason": "Travel"}, format="json", HTTP_IF_MATCH=f'"{plan.version}", '
    )
    assert response.status_code == 200, (response.status_code, response.content[:300])
