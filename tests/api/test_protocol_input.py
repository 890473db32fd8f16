"""a protocol whose own parameters contradict each other is refused.

domain.md: the induction is "a series of sessions close together ... never two on one day"; the
protocol's min_gap_hours is the least time between two sessions. Weekly counts of 7 need a session
every day, which a 48-hour minimum gap forbids: such a protocol can never be booked, so it must be
refused when an administrator saves it, naming the field, not discovered when a course fails."""

from __future__ import annotations

from scheduling.models import Protocol

V1 = "/api/v1"


def test_weekly_counts_that_the_minimum_gap_cannot_fit_are_refused(world):
    before = Protocol.objects.count()
    response = world.client("clinic_admin").post(
        f"{V1}/protocols/",
        {
            "name": "Every day for two weeks",
            "route": "iv",
            "session_minutes": 90,
            "infusion_minutes": 40,
            "induction_pattern": "weekly",
            "weekly_counts": [7, 7],
            "min_gap_hours": 48,
        },
        format="json",
    )
    assert response.status_code == 400, response.json()
    fields = response.json()["error"]["fields"]
    assert "weekly_counts" in fields or "min_gap_hours" in fields, fields
    assert Protocol.objects.count() == before


def test_a_session_longer_than_twelve_hours_is_refused_naming_the_field(world):
    """An appointment lasts at most 12 hours (appointment_at_most_max_length): a longer protocol
    could never be booked, and each booking of it would fail on a database rule."""
    protocol = Protocol.objects.first()
    before = protocol.session_minutes
    response = world.client("clinic_admin").patch(
        f"{V1}/protocols/{protocol.pk}/", {"session_minutes": 13 * 60}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert "720" in str(response.json()["error"]["fields"]["session_minutes"])
    protocol.refresh_from_db()
    assert protocol.session_minutes == before
    assert (
        world.client("clinic_admin")
        .patch(f"{V1}/protocols/{protocol.pk}/", {"session_minutes": 12 * 60}, format="json")
        .status_code
        == 200
    )
