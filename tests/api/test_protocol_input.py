"""a protocol whose own parameters contradict each other is refused.

domain.md: the induction is "a series of sessions close together ... never two on one day"; the
protocol's min_gap_hours is the least time between two sessions. Weekly counts of 7 need a session
every day, which a 48-hour minimum gap forbids: such a protocol can never be booked, so it must be
refused when an administrator saves it, naming the field, not discovered when a course fails."""

from __future__ import annotations

import pytest

from scheduling.models import Protocol
from tests.factories import ProtocolFactory

V1 = "/api/v1"


def test_weekly_counts_that_the_minimum_gap_cannot_fit_are_refused(world, wide_admin):
    before = Protocol.objects.count()
    response = wide_admin.post(
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


def test_a_session_longer_than_twelve_hours_is_refused_naming_the_field(world, wide_admin):
    """An appointment lasts at most 12 hours (appointment_at_most_max_length): a longer protocol
    could never be booked, and each booking of it would fail on a database rule."""
    protocol = Protocol.objects.first()
    before = protocol.session_minutes
    response = wide_admin.patch(f"{V1}/protocols/{protocol.pk}/", {"session_minutes": 13 * 60}, format="json")
    assert response.status_code == 400, response.json()
    assert "720" in str(response.json()["error"]["fields"]["session_minutes"])
    protocol.refresh_from_db()
    assert protocol.session_minutes == before
    assert (
        wide_admin.patch(f"{V1}/protocols/{protocol.pk}/", {"session_minutes": 12 * 60}, format="json").status_code
        == 200
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_gap_hours", 0),
        ("min_gap_hours", 15 * 24),
        ("review_after_months", 0),
        ("review_after_months", 25),
        ("maintenance_max_days", 366),
        ("maintenance_default_days", 32767),
        ("induction_window_days", 61),
        ("induction_window_days", 32767),
    ],
)
def test_a_protocol_value_outside_the_clinical_range_is_refused_naming_the_field(world, wide_admin, field, value):
    # The course planner searches the whole induction window: a 90-year window is a 90-year search.
    protocol = Protocol.objects.get(pk=world.clinic.protocol.pk)
    before = getattr(protocol, field)
    body = {field: value}
    if field == "maintenance_default_days":
        body["maintenance_max_days"] = value  # the interval stays ordered: only the bound refuses it
    response = wide_admin.patch(f"{V1}/protocols/{protocol.pk}/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    protocol.refresh_from_db()
    assert getattr(protocol, field) == before, f"{field}={value} was saved"


def test_an_induction_of_more_weeks_than_the_longest_window_is_refused(world, wide_admin):
    response = wide_admin.post(
        f"{V1}/protocols/",
        {
            "name": "Weekly for a year",
            "session_minutes": 90,
            "infusion_minutes": 40,
            "induction_pattern": "weekly",
            "weekly_counts": [1] * 52,
            "min_gap_hours": 48,
        },
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert "weekly_counts" in response.json()["error"]["fields"], response.json()
    assert not Protocol.objects.filter(name="Weekly for a year").exists()


def test_a_protocol_at_the_edges_of_the_clinical_ranges_is_accepted(world, wide_admin):
    protocol = world.clinic.protocol
    response = wide_admin.patch(
        f"{V1}/protocols/{protocol.pk}/",
        {
            "min_gap_hours": 24,
            "review_after_months": 24,
            "maintenance_max_days": 365,
            "induction_window_days": 60,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()


def test_a_protocols_route_stays_once_a_plan_uses_it(world, wide_admin):
    """Its plans' sessions were booked in chairs equipped for its route and their administrations are
    recorded by it: a protocol's route changed under them would make the session record refuse the
    route the session was set up for. A protocol no plan uses changes its route freely."""
    used = Protocol.objects.filter(plans__isnull=False).distinct().first()
    assert used is not None
    response = wide_admin.patch(f"{V1}/protocols/{used.pk}/", {"route": "im"}, format="json")
    assert response.status_code == 400, response.json()
    assert "Plans use this protocol, so its route stays" in response.json()["error"]["fields"]["route"][0]
    used.refresh_from_db()
    assert used.route == "iv"
    assert wide_admin.patch(f"{V1}/protocols/{used.pk}/", {"session_minutes": 110}, format="json").status_code == 200

    unused = ProtocolFactory(name="Not yet used")
    assert wide_admin.patch(f"{V1}/protocols/{unused.pk}/", {"route": "im"}, format="json").status_code == 200
    unused.refresh_from_db()
    assert unused.route == "im"
