"""Minimum necessary in the Django admin (README, "/admin/": clinical fields and records "appear
there only for nurses and prescribers ... a clinic administrator or a superuser without a clinical
role sees the set-up only"; clinic.permissions.FIELD_READERS: a session's notes are clinicians').

A clinician's API answer kept for Idempotency-Key replays (scheduling.IdempotencyRecord) holds the
session as the clinician saw it, clinical notes included. The admin shows who replayed what and
never the kept answer, so a superuser or clinic-wide administrator with no clinical duty does not
read there the notes that every other admin page hides from them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from clinic.models import Role
from scheduling.models import Appointment, IdempotencyRecord
from tests.api.conftest import frozen, world  # noqa: F401  (the fixtures)
from tests.factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

NOTES = "Notes-marker dissociation at 30 minutes, BP 162/98"


def _admin_user(username: str, role: str, *, superuser: bool):
    user = UserFactory(username=username, is_staff=True, is_superuser=superuser)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=role, all_sites=True)
    return user


@pytest.mark.parametrize("superuser", [False, True], ids=["clinic-wide admin", "superuser clinic admin"])
def test_a_kept_api_answer_does_not_show_session_notes_to_an_admin_without_a_clinical_duty(
    client,
    world,  # noqa: F811
    superuser,
):
    appointment = world.appointment_a
    Appointment.objects.filter(pk=appointment.pk).update(notes=NOTES)
    moved = world.client("prescriber").post(
        f"/api/v1/appointments/{appointment.pk}/move/",
        {"starts_at": "2026-03-04T15:00:00Z"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="move-once-1",
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["notes"] == NOTES  # the prescriber may read them
    record = IdempotencyRecord.objects.get(key="move-once-1")

    user = _admin_user("setup", Role.CLINIC_ADMIN, superuser=superuser)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    for url in (
        "/admin/scheduling/idempotencyrecord/",
        f"/admin/scheduling/idempotencyrecord/{record.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code in (200, 403, 404), (url, response.status_code)
        assert NOTES not in response.content.decode(), url
