"""A clinic administrator configures the clinic and sees no patient data (domain.md, "Clinic
administrators set up sites, chairs, opening hours, closures, staff shifts, protocols and the
reminder policy"; patients/api.py and README: "clinic administrators: configuration only, no
patient data"). The API's staff endpoint lets a site's administrator change roles at their sites;
it must not let them give themselves a clinical role, or the rule is one PATCH away: the same
token then reads every patient's chart, medications and evaluations, and takes a prescriber's
decisions (overrides, ending courses) without anyone else granting it."""

from __future__ import annotations

import pytest

from clinic.models import StaffMember

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.mark.parametrize("role", ["prescriber", "nurse"])
def test_a_clinic_administrator_cannot_give_themselves_a_clinical_role(world, role):
    admin = world.client("clinic_admin")
    me = StaffMember.objects.get(user=world.users["clinic_admin"])
    assert admin.get(f"{V1}/patients/{world.plan_b.patient_id}/").status_code == 403  # no patient data

    response = admin.patch(f"{V1}/staff/{me.pk}/", {"role": role}, format="json")

    me.refresh_from_db()
    assert me.role == "clinic_admin", (response.status_code, response.content)
    assert admin.get(f"{V1}/patients/{world.plan_b.patient_id}/").status_code == 403
