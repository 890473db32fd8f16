"""A chair with sessions stays at its site: sessions are seen by the site of their chair, so a
chair moved to another site would take its sessions (booked and past) away from their site's desk
and records. An empty chair can still be moved."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from clinic.models import Chair, Role
from tests.factories import SiteFactory, StaffFactory
from tests.scheduling.conftest import at_new_york, make_clinic, start_plus

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def _admin_of(*sites) -> APIClient:
    client = APIClient()
    client.force_authenticate(StaffFactory(role=Role.CLINIC_ADMIN, sites=list(sites)).user)
    return client


def test_a_chair_with_sessions_is_not_moved_to_another_site():
    clinic = make_clinic()
    other = SiteFactory()
    (session,) = clinic.book(clinic.plan(), [at_new_york(start_plus(1), 10)])
    admin = _admin_of(clinic.site, other)
    answer = admin.patch(f"{V1}/chairs/{session.chair_id}/", {"site": other.pk}, format="json")
    assert answer.status_code == 400, answer.content
    assert "add a chair at the other site" in str(answer.json()["error"]["fields"]["site"])
    assert Chair.objects.get(pk=session.chair_id).site_id == clinic.site.pk
    desk = APIClient()
    desk.force_authenticate(clinic.front_desk.user)
    assert desk.get(f"{V1}/appointments/{session.pk}/").status_code == 200


def test_an_empty_chair_moves_and_a_chair_with_sessions_is_still_renamed():
    clinic = make_clinic()
    other = SiteFactory()
    (session,) = clinic.book(clinic.plan(), [at_new_york(start_plus(1), 10)])
    admin = _admin_of(clinic.site, other)
    empty = clinic.chairs[2]
    assert admin.patch(f"{V1}/chairs/{empty.pk}/", {"site": other.pk}, format="json").status_code == 200
    assert Chair.objects.get(pk=empty.pk).site_id == other.pk
    renamed = admin.patch(f"{V1}/chairs/{session.chair_id}/", {"name": "Window chair"}, format="json")
    assert renamed.status_code == 200, renamed.content
