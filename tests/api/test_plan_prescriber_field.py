"""A refused API input names its field (clinic/api_errors.py puts a service's `details.field` in
`fields`): a nurse who names a prescriber who does not work at the plan's site gets a 400 that
names `prescriber`, so the client can tell which input to correct."""

from __future__ import annotations

from clinic.models import Role, StaffMember
from scheduling.models import TreatmentPlan
from tests.factories import PatientFactory, SiteFactory, StaffFactory

V1 = "/api/v1"


def test_a_prescriber_who_does_not_work_at_the_plans_site_is_refused_naming_prescriber(world):
    elsewhere = SiteFactory(time_zone="America/New_York")
    StaffMember.objects.get(user=world.users["nurse"]).sites.add(elsewhere)
    prescriber_elsewhere = StaffFactory(role=Role.PRESCRIBER, sites=[elsewhere])
    patient = PatientFactory(home_site=world.site)
    before = TreatmentPlan.objects.count()
    response = world.client("nurse").post(
        f"{V1}/plans/",
        {
            "patient": patient.pk,
            "protocol": world.draft_plan.protocol_id,
            "site": world.site.pk,
            "prescriber": prescriber_elsewhere.pk,
            "start_date": "2026-03-09",
        },
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert TreatmentPlan.objects.count() == before
    error = response.json()["error"]
    assert "prescriber" in (error.get("fields") or {}), error
