"""book-course takes either a start date or the proposed sessions.

BookCourseSerializer's help: "start_date: Plan afresh from this day ... or sessions: book these
(possibly adjusted) sessions": one or the other."""

from __future__ import annotations

from scheduling.models import Appointment

V1 = "/api/v1"


def _proposal(world) -> list[dict]:
    response = world.client("front_desk").post(
        f"{V1}/plans/{world.draft_plan.pk}/propose-course/", {"start_date": "2026-03-09"}, format="json"
    )
    assert response.status_code == 200, response.json()
    sessions = response.json()["sessions"]
    for session in sessions:
        session.pop("why", None)
    return sessions


def test_a_course_with_both_a_start_date_and_sessions_is_refused(world):
    """Two answers to one question: refused, rather than one of them silently dropped."""
    sessions = _proposal(world)
    before = Appointment.objects.filter(plan=world.draft_plan).count()
    response = world.client("front_desk").post(
        f"{V1}/plans/{world.draft_plan.pk}/book-course/",
        {"start_date": "2026-04-20", "sessions": sessions},
        format="json",
    )
    assert response.status_code == 400, response.json()
    fields = response.json()["error"]["fields"]
    assert "start_date" in fields or "sessions" in fields
    assert Appointment.objects.filter(plan=world.draft_plan).count() == before


def test_a_course_session_with_a_huge_nurse_or_chair_id_is_a_400_naming_the_sessions(world):
    """Ids in a course's sessions are bounded like every id field (a larger number would reach the
    database and come back without the field's name); nothing is booked."""
    client = world.client("front_desk")
    plan = world.draft_plan
    proposal = client.post(f"{V1}/plans/{plan.pk}/propose-course/", {"start_date": "2026-03-09"}, format="json")
    assert proposal.status_code == 200
    before = Appointment.objects.count()
    for field in ("nurse", "chair", "site"):
        sessions = [dict(s) for s in proposal.json()["sessions"]]
        sessions[-1][field] = 10**30
        response = client.post(f"{V1}/plans/{plan.pk}/book-course/", {"sessions": sessions}, format="json")
        assert response.status_code == 400, response.json()
        assert "sessions" in response.json()["error"]["fields"], response.json()
    assert Appointment.objects.count() == before
