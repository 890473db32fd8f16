"""Staff history shows which sites someone was given or taken off (what they may see and where
they may be booked), with who did it: the sites are part of the staff member's history."""

from __future__ import annotations

import pytest
import time_machine
from rest_framework.test import APIClient

from clinic.models import Role
from tests.factories import SiteFactory, StaffFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db


def test_giving_and_taking_a_site_is_in_the_history_with_the_editor():
    first, second = SiteFactory(), SiteFactory()
    admin = StaffFactory(role=Role.CLINIC_ADMIN, sites=[first, second])
    nurse = StaffFactory(role=Role.NURSE, sites=[first])
    client = APIClient()
    client.force_authenticate(admin.user)
    with time_machine.travel(NOW, tick=False):
        assert (
            client.patch(f"/api/v1/staff/{nurse.pk}/", {"sites": [first.pk, second.pk]}, format="json").status_code
            == 200
        )
        given = nurse.history.latest("history_id")
        assert given.history_user == admin.user
        assert {row.site_id for row in given.sites.all()} == {first.pk, second.pk}
        assert client.patch(f"/api/v1/staff/{nurse.pk}/", {"sites": [second.pk]}, format="json").status_code == 200
    taken = nurse.history.latest("history_id")
    assert taken.history_user == admin.user
    assert {row.site_id for row in taken.sites.all()} == {second.pk}
    (change,) = taken.diff_against(given).changes
    assert change.field == "sites"
