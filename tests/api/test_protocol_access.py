"""Who changes a protocol: every site books with every protocol (permissions.UNSCOPED), so a
change holds at sites a site's administrator does not run; only clinic-wide staff make it, as
only they close every site at once."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from clinic.models import Role
from scheduling.models import Protocol
from tests.api.conftest import client_of
from tests.factories import (
    AppointmentFactory,
    ChairFactory,
    PatientFactory,
    PlanFactory,
    ProtocolFactory,
    SiteFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db
V1 = "/api/v1"
ANCHOR = dt.datetime(2026, 2, 27, 15, tzinfo=dt.UTC)
NEW_PROTOCOL = {
    "name": "Six in three weeks, 90 minutes",
    "session_minutes": 90,
    "infusion_minutes": 40,
    "induction_pattern": "window",
    "induction_sessions": 6,
    "induction_window_days": 21,
}


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(ANCHOR, tick=False):
        yield


def test_a_site_bound_administrator_cannot_change_a_protocol_other_sites_book_with():
    site_a, site_b = SiteFactory(), SiteFactory()
    protocol = ProtocolFactory()
    plan_b = PlanFactory(patient=PatientFactory(home_site=site_b), protocol=protocol)
    AppointmentFactory(
        patient=plan_b.patient,
        plan=plan_b,
        chair=ChairFactory(site=site_b),
        starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
    )
    admin_a = client_of(StaffFactory(role=Role.CLINIC_ADMIN, sites=[site_a]))

    changed = admin_a.patch(
        f"{V1}/protocols/{protocol.pk}/", {"session_minutes": 240, "nurse_setup_minutes": 90}, format="json"
    )
    added = admin_a.post(f"{V1}/protocols/", NEW_PROTOCOL, format="json")

    assert changed.status_code == 403, changed.content
    assert "clinic-wide" in changed.json()["error"]["message"]
    protocol.refresh_from_db()
    assert (protocol.session_minutes, protocol.nurse_setup_minutes) == (120, 20), (
        "site A's admin changed site B's sessions"
    )
    assert added.status_code == 403, added.content
    assert not Protocol.objects.filter(name=NEW_PROTOCOL["name"]).exists()
    assert admin_a.get(f"{V1}/protocols/{protocol.pk}/").status_code == 200  # still read by every staff member


def test_a_site_bound_administrator_is_refused_before_the_body_is_read():
    admin = client_of(StaffFactory(role=Role.CLINIC_ADMIN, sites=[SiteFactory()]))
    response = admin.post(f"{V1}/protocols/", {"session_minutes": "not a number"}, format="json")
    assert response.status_code == 403, response.content


def test_a_clinic_wide_administrator_still_changes_a_protocol():
    protocol = ProtocolFactory()
    wide = client_of(StaffFactory(role=Role.CLINIC_ADMIN, all_sites=True))
    response = wide.patch(f"{V1}/protocols/{protocol.pk}/", {"session_minutes": 150}, format="json")
    assert response.status_code == 200, response.content
    assert Protocol.objects.get(pk=protocol.pk).session_minutes == 150
    assert wide.post(f"{V1}/protocols/", NEW_PROTOCOL, format="json").status_code == 201
