"""A nurse cannot work two overlapping shifts (clinic.models.Shift: `shift_no_overlap_per_staff`;
the API answers such a shift 409, clinic/api.py ShiftSerializer). The admin's form refuses it
through the exclusion constraint's validate(): on PostgreSQL with the range operators, on the
embedded default (SQLite, `python dev.py run`, where `admin` is the documented clinic
administrator) with plain comparisons (clinic.db.PostgresExclusionConstraint)."""

from __future__ import annotations

from tests.sqlite_shell import run_on_sqlite

SCENARIO = r"""
import datetime as dt, json
from django.test import Client
from clinic.models import Role, Shift
from tests.factories import SiteFactory, StaffFactory, ShiftFactory, UserFactory

site = SiteFactory(name="North", time_zone="UTC")
nurse = StaffFactory(role=Role.NURSE, sites=[site])
day = dt.date(2031, 3, 4)
ShiftFactory(staff=nurse, site=site, starts_at=dt.datetime.combine(day, dt.time(7), tzinfo=dt.UTC),
             ends_at=dt.datetime.combine(day, dt.time(15), tzinfo=dt.UTC))
admin = UserFactory(username="boss", is_staff=True, is_superuser=True)
StaffFactory(user=admin, role=Role.CLINIC_ADMIN, all_sites=True)
client = Client()
client.force_login(admin)
answer = client.post("/admin/clinic/shift/add/", {
    "staff": nurse.pk, "site": site.pk,
    "starts_at_0": "2031-03-04", "starts_at_1": "12:00:00",
    "ends_at_0": "2031-03-04", "ends_at_1": "19:00:00",
})
print("RESULT", json.dumps({
    "status": answer.status_code,
    "shifts": [[s.starts_at.isoformat(), s.ends_at.isoformat()] for s in Shift.objects.filter(staff=nurse).order_by("starts_at")],
}))
"""


def test_admin_refuses_an_overlapping_shift_for_one_nurse_on_sqlite(tmp_path, tmp_path_factory):
    found = run_on_sqlite(tmp_path, tmp_path_factory, SCENARIO)
    # The form is shown again with the error (200), and the nurse still has the one shift.
    assert len(found["shifts"]) == 1, f"overlapping shift saved by the admin on SQLite: {found}"
    assert found["status"] == 200
