"""Who gave the ketamine, in the controlled-substance register, must be a clinician the recording
clinician may name: the API narrows `given_by` to staff of the viewer's sites; the session page
offers and accepts every active clinician of every site."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import Role
from clinical.models import Administration, ControlledSubstanceEntry
from tests.clinical.conftest import SESSION_START, ward  # noqa: F401  (the fixture)
from tests.clinical_helpers import record_pre_vitals
from tests.factories import SiteFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LATER = SESSION_START + dt.timedelta(hours=1)  # 11:00 in New York


@pytest.fixture
def stranger(db):
    """A nurse at another clinic site, who has never worked at the session's site."""
    return StaffFactory(role=Role.NURSE, user=UserFactory(username="nurse_elsewhere"), sites=[SiteFactory()])


def _form(given_by) -> dict:
    return {
        "form": "administration",
        "route": "iv",
        "dose_mg_per_kg": "0.5",
        "weight_kg": "70",
        "total_mg": "35",
        "started_at": "2026-03-02T10:10",
        "ended_at": "2026-03-02T10:50",
        "lot_number": "KX-1",
        "given_by": given_by.pk,
    }


def test_the_api_refuses_a_given_by_from_another_site(ward, stranger):  # noqa: F811
    record_pre_vitals(ward.session, ward.nurse.user)
    with time_machine.travel(LATER, tick=False):
        body = {k: v for k, v in _form(stranger).items() if k != "form"}
        body["started_at"], body["ended_at"] = "2026-03-02T15:10:00Z", "2026-03-02T15:50:00Z"
        response = ward.client("nurse").post(
            f"/api/v1/clinical/sessions/{ward.session.pk}/administration/", body, format="json"
        )
    assert response.status_code == 400
    assert not ControlledSubstanceEntry.objects.exists()


def test_the_session_page_refuses_a_given_by_from_another_site(client, ward, stranger):  # noqa: F811
    record_pre_vitals(ward.session, ward.nurse.user)
    client.force_login(ward.nurse.user)
    url = reverse("clinical:session", args=[ward.session.pk])
    with time_machine.travel(LATER, tick=False):
        response = client.post(url, _form(stranger))
    assert not ControlledSubstanceEntry.objects.filter(given_by=stranger).exists()
    assert response.status_code == 400
    assert not Administration.objects.exists()


def test_the_session_page_does_not_offer_clinicians_of_other_sites(client, ward, stranger):  # noqa: F811
    record_pre_vitals(ward.session, ward.nurse.user)
    client.force_login(ward.nurse.user)
    with time_machine.travel(LATER, tick=False):
        page = client.get(reverse("clinical:session", args=[ward.session.pk])).content.decode()
    assert f'<option value="{stranger.pk}">{stranger.display_name}' not in page
