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


def test_an_if_match_on_a_patient_edit_is_not_ignored(world):
    patient = world.appointment_a.patient
    response = world.client("front_desk").patch(
        f"{V1}/patients/{patient.pk}/", {"escort_name": "Sam Ride"}, format="json", HTTP_IF_MATCH='"stale-copy-17"'
    )
    assert response.status_code == 412, (response.status_code, response.content[:200])
    assert Patient.objects.get(pk=patient.pk).escort_name != "Sam Ride"
