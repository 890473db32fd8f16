"""schemathesis against the live OpenAPI schema, through the WSGI app, as a prescriber (the
role that reaches the most operations). Every operation, a bounded number of examples:
no 5xx, and every response (status, content type, body) matches the schema.

schemathesis' pytest plugin (`from_fixture`/`parametrize`) reads `Function._nodeid`, which
pytest 9 no longer has, so the operations are driven with the Python API and hypothesis
directly: one hypothesis run per operation, failures collected and reported together."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from clinic.security.services import token_issue
from tests.api.conftest import build_world

EXAMPLES_PER_OPERATION = 5
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def keep_test_connection():
    """Django closes the connection around each real request; that would end the test's
    transaction. Django's own test client disconnects the same handlers."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_every_operation_conforms_to_the_schema(keep_test_connection, db, frozen):
    prescriber = build_world(days=20).users["prescriber"]
    # The WSGI app itself, not config.wsgi: importing that module freezes the collector (web start-up).
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            # A fresh token per example: the logout operations revoke the one they are called with. Each
            # is revoked after its example, as a user holds only so many (API_TOKEN_LIMIT_PER_USER).
            token, issued = token_issue(user=prescriber)
            try:
                response = case.call(headers={"Authorization": f"Token {token}"})
                case.validate_response(response, checks=CHECKS)
            finally:
                AuthToken.objects.filter(pk=issued.pk).delete()

        try:
            run()
        except Exception as exc:  # collect every operation's failure, not just the first
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:1500])
    assert operations >= 60
    assert not failures, "\n\n".join(failures)


def test_schema_and_docs_are_served(client):
    schema_response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema_response.status_code == 200
    document = schema_response.json()
    assert "/api/v1/appointments/" in document["paths"]
    assert "Error" in document["components"]["schemas"]
    assert client.get("/api/docs/").status_code == 200
