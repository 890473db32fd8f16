"""Staff see only what happens at their sites: the chart shows each site its own part of a patient
seen at two sites (web/chart.py). The outcome-summary API reads every plan and session of the patient,
so a prescriber at another site is shown this site's plan, its first session and its interval."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from clinic.models import Role
from clinic.security.services import token_issue
from scheduling.models import PlanStatus
from tests.factories import PlanFactory, SiteFactory, StaffFactory, UserFactory
from tests.measures.conftest import world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_the_outcome_summary_shows_a_prescriber_only_their_sites_plan(world):  # noqa: F811
    other_site = SiteFactory(name="Uptown")
    elsewhere = StaffFactory(role=Role.PRESCRIBER, user=UserFactory(username="uptown_rx"), sites=[other_site])
    # The patient was once seen uptown too: that makes them uptown's patient, with uptown's (ended) plan.
    uptown_plan = PlanFactory(
        patient=world.patient_a,
        site=other_site,
        prescriber=elsewhere,
        status=PlanStatus.ENDED,
        ended_at=world.plan_a.created_at,
        end_reason="Moved downtown",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=elsewhere.user)[0]}")

    # The plan API itself hides the downtown plan from the uptown prescriber ...
    plans = client.get("/api/v1/plans/", {"patient": world.patient_a.pk}).json()["results"]
    assert [p["id"] for p in plans] == [uptown_plan.pk]

    # ... but the outcome summary names it, with its first session and its maintenance interval.
    body = client.get(f"/api/v1/patients/{world.patient_a.pk}/outcomes/").json()
    assert body["plan"] != world.plan_a.pk
    assert body["first_session_at"] is None
