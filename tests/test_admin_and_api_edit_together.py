"""An admin page save and an API If-Match PATCH on the same patient at the same moment: both lock
the patient's row (the admin FOR UPDATE, the API FOR NO KEY UPDATE and then FOR UPDATE for a new
home site); neither may deadlock, and the second sees the first's change."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.test import Client

from patients.admin import PatientAdmin
from patients.api import PatientSerializer
from patients.models import Patient
from tests.api.conftest import build_world, frozen  # noqa: F401
from tests.factories import SiteFactory
from tests.test_admin_concurrent_edits import _open_change_page

V1 = "/api/v1"


def _both_open():
    """A world whose desk also works at a second site (`other`), and a prescriber's admin page of
    patient B opened, its escort changed: the page's address and the data it will post."""
    world = build_world()
    patient = world.appointment_b.patient
    other = SiteFactory()
    world.users["front_desk"].staff.sites.add(other)
    client = Client()
    page, _, data = _open_change_page(client, patient)
    data["escort_name"] = "Admin Escort"
    return world, patient, f"{V1}/patients/{patient.pk}/", other, client, page, data


@pytest.mark.django_db(transaction=True)
def test_api_if_match_patch_waits_for_an_admin_save_and_is_then_refused(frozen, monkeypatch):  # noqa: F811
    world, patient, url, other, client, page, data = _both_open()
    tag = world.client("front_desk").get(url)["ETag"]
    outcome: dict[str, int] = {}
    original = PatientAdmin.save_model

    def save_model(self, request, obj, form, change):
        def api_patch():
            try:
                outcome["api"] = (
                    world.client("front_desk")
                    .patch(url, {"home_site": other.pk, "escort_name": "API"}, format="json", HTTP_IF_MATCH=tag)
                    .status_code
                )
            finally:
                connections.close_all()

        worker = threading.Thread(target=api_patch)
        worker.start()
        worker.join(timeout=2)
        outcome["waited"] = worker.is_alive()
        outcome["thread"] = worker  # type: ignore[assignment]
        original(self, request, obj, form, change)

    monkeypatch.setattr(PatientAdmin, "save_model", save_model)
    response = client.post(page, data)
    outcome["thread"].join(timeout=20)  # type: ignore[attr-defined]

    assert response.status_code == 302
    assert outcome["waited"] is True
    assert outcome.get("api") == 412, outcome
    assert Patient.objects.get(pk=patient.pk).escort_name == "Admin Escort"


@pytest.mark.django_db(transaction=True)
def test_an_admin_save_waits_for_an_api_if_match_patch_and_is_then_refused(frozen, monkeypatch):  # noqa: F811
    world, patient, url, other, client, page, data = _both_open()
    outcome: dict[str, object] = {}
    original = PatientSerializer.update

    def update(self, instance, validated_data):
        def admin_post():
            try:
                outcome["admin"] = client.post(page, data).status_code
            finally:
                connections.close_all()

        worker = threading.Thread(target=admin_post)
        worker.start()
        worker.join(timeout=2)
        outcome["waited"] = worker.is_alive()
        outcome["thread"] = worker
        return original(self, instance, validated_data)

    monkeypatch.setattr(PatientSerializer, "update", update)
    desk = world.client("front_desk")
    tag = desk.get(url)["ETag"]
    response = desk.patch(url, {"home_site": other.pk, "escort_name": "API"}, format="json", HTTP_IF_MATCH=tag)
    outcome["thread"].join(timeout=20)  # type: ignore[attr-defined]

    assert response.status_code == 200, response.content[:300]
    assert outcome["waited"] is True
    assert outcome.get("admin") == 200, outcome  # the page again, with the refusal
    fresh = Patient.objects.get(pk=patient.pk)
    assert (fresh.escort_name, fresh.home_site_id) == ("API", other.pk)
