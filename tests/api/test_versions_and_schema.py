"""Optimistic concurrency over the API and how the schema documents it.

Rules: scheduling/api/plans.py's own docstring ("Responses carry the new version as ETag") and
IF_MATCH_HEADER ("The plan's ETag as read"): a client generated from the schema must be told
the ETag header exists, or it can never send If-Match; RFC 9110 §13.1.1 / §13.2: a server that
receives If-Match evaluates it before applying the method, and a tag that matches no current
representation answers 412 with nothing changed (a client that sent it asked for exactly that)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from patients.models import Patient

V1 = "/api/v1"


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker, tmp_path_factory):
    import json

    path = tmp_path_factory.mktemp("schema") / "schema.json"
    with django_db_blocker.unblock():
        call_command("spectacular", "--format", "openapi-json", "--file", str(path))
    return json.loads(path.read_text())


def _header_names(response: dict) -> set[str]:
    return {name.lower() for name in (response.get("headers") or {})}


def test_schema_documents_the_etag_header_of_a_plan_read(schema):
    answer = schema["paths"]["/api/v1/plans/{id}/"]["get"]["responses"]["200"]
    assert "etag" in _header_names(answer), answer


@pytest.mark.parametrize(
    "action", ["change-interval", "change-review-date", "pause", "resume", "end", "new-induction", "clear-attention"]
)
def test_schema_documents_the_new_etag_of_a_plan_change(schema, action):
    answer = schema["paths"][f"/api/v1/plans/{{id}}/{action}/"]["post"]["responses"]["200"]
    assert "etag" in _header_names(answer), answer


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/patients/{id}/", "patch"),
        ("/api/v1/appointments/{id}/move/", "post"),
        ("/api/v1/closures/{id}/", "delete"),
        ("/api/v1/staff/{id}/", "patch"),
    ],
)
def test_schema_documents_if_match_and_412_on_writes_to_one_tagged_object(schema, path, method):
    operation = schema["paths"][path][method]
    headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
    assert "If-Match" in headers, headers
    assert "412" in operation["responses"]


@pytest.mark.parametrize("path", ["/api/v1/patients/{id}/", "/api/v1/appointments/{id}/", "/api/v1/chairs/{id}/"])
def test_schema_documents_the_etag_of_a_tagged_read(schema, path):
    assert "etag" in _header_names(schema["paths"][path]["get"]["responses"]["200"])


def test_schema_does_not_offer_if_match_on_a_create(schema):
    operation = schema["paths"]["/api/v1/patients/"]["post"]
    assert "If-Match" not in {p["name"] for p in operation.get("parameters", [])}


def test_an_if_match_on_a_patient_edit_is_not_ignored(world):
    patient = world.appointment_a.patient
    response = world.client("front_desk").patch(
        f"{V1}/patients/{patient.pk}/", {"escort_name": "Sam Ride"}, format="json", HTTP_IF_MATCH='"stale-copy-17"'
    )
    assert response.status_code == 412, (response.status_code, response.content[:200])
    assert Patient.objects.get(pk=patient.pk).escort_name != "Sam Ride"


def test_if_match_star_holds_for_a_resource_without_an_etag(world):
    """RFC 9110 §13.1.1: `If-Match: *` is true whenever the resource exists, ETag or not."""
    patient = world.appointment_a.patient
    response = world.client("front_desk").patch(
        f"{V1}/patients/{patient.pk}/", {"escort_name": "Sam Ride"}, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 200, response.content[:300]
    assert Patient.objects.get(pk=patient.pk).escort_name == "Sam Ride"


def test_if_match_star_changes_a_plan_whatever_its_version(world):
    """`*` ties the change to no version: the plan changes and its new ETag comes back."""
    plan = world.plan_b
    response = world.client("prescriber").post(
        f"{V1}/plans/{plan.pk}/pause/", {"reason": "Travel"}, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 200, response.content[:300]
    assert response["ETag"] == f'"{plan.version + 1}"'


@pytest.mark.parametrize(("holds", "status"), [(True, 200), (False, 412)])
def test_if_match_with_a_list_of_tags_holds_when_the_current_version_is_one_of_them(world, holds, status):
    """RFC 9110 §13.1.1: If-Match lists entity tags; it holds when the current one is among them
    (else the precondition fails, 412, as for one tag)."""
    plan = world.plan_b
    listed = [plan.version + 20, plan.version] if holds else [plan.version + 20, plan.version + 30]
    response = world.client("prescriber").post(
        f"{V1}/plans/{plan.pk}/pause/",
        {"reason": "Travel"},
        format="json",
        HTTP_IF_MATCH=", ".join(f'"{version}"' for version in listed),
    )
    assert response.status_code == status, response.content[:300]
    plan.refresh_from_db()
    assert (plan.status == "paused") == holds


def test_a_malformed_tag_in_an_if_match_list_is_a_400(world):
    plan = world.plan_b
    response = world.client("prescriber").post(
        f"{V1}/plans/{plan.pk}/pause/", {"reason": "Travel"}, format="json", HTTP_IF_MATCH=f'"{plan.version}", nonsense'
    )
    assert response.status_code == 400
    assert "If-Match" in response.json()["error"]["fields"]
