"""The FHIR views' shared base: token authentication and roles as in /api/v1/, SMART-style
scopes per interaction, application/fhir+json in and out, one transaction per request, and
every error an OperationOutcome."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource
from rest_framework import exceptions
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.audit import patients_shown
from clinic.permissions import Actor, actor_for
from clinic.security.authentication import ClinicTokenAuthentication
from interop.fhir import scopes
from interop.fhir.outcome import FHIRError, error_for, outcome
from interop.fhir.paging import CURSOR, Cursor, Page, write_cursor
from patients.models import Patient

FHIR_JSON = "application/fhir+json"
MAX_BODY = 1_000_000


class FHIRRenderer(BaseRenderer):
    """Only for content negotiation: the views hand back finished HttpResponses."""

    media_type = FHIR_JSON
    format = "json"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data).encode()


def fhir_response(resource: Resource, *, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(resource.model_dump_json(), status=status, content_type=f"{FHIR_JSON}; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def base_url(request: Any) -> str:
    return request.build_absolute_uri(reverse("fhir-metadata"))[: -len("metadata")]


class FHIRView(APIView):
    authentication_classes = [ClinicTokenAuthentication]
    permission_classes: list = []
    renderer_classes = [FHIRRenderer]
    parser_classes: list = []
    schema = None  # FHIR's own CapabilityStatement describes these, not the /api/ OpenAPI schema

    def perform_content_negotiation(self, request: Any, force: bool = False) -> Any:
        # Every answer is FHIR JSON, whatever the client's Accept says (XML is not offered).
        return super().perform_content_negotiation(request, force=True)

    # Views that only read skip the request's transaction ($find, a POST, writes no more than the row
    # that keeps its reason, atomic on its own: interop/fhir/find_reasons.py).
    read_only = False

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if self.read_only or request.method in ("GET", "HEAD"):
            return super().dispatch(request, *args, **kwargs)
        # One transaction per write: all or nothing; an error answer rolls back.
        with transaction.atomic():
            self.in_write_transaction = True
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated("Send a token: Authorization: Token <key>.")
        if self.actor.role is None:
            raise FHIRError(403, "forbidden", "This account has no role at the clinic.")

    def handle_exception(self, exc: Exception) -> Response:
        """Every error as an OperationOutcome, rendered by FHIRRenderer like DRF's own error answers."""
        error = error_for(exc)
        if getattr(self, "in_write_transaction", False):
            transaction.set_rollback(True)
        body = json.loads(outcome(error.code, error.message, reason=error.reason).model_dump_json())
        return Response(body, status=error.status, headers=error.headers, content_type=f"{FHIR_JSON}; charset=utf-8")

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        raise FHIRError(405, "not-supported", f"{request.method} is not supported here.")

    @property
    def actor(self) -> Actor:
        return actor_for(self.request)

    @property
    def acting_user(self) -> AbstractBaseUser:
        """The signed-in user the services record as the actor (initial() refused anyone else)."""
        user = self.request.user
        if not isinstance(user, AbstractBaseUser) or not user.is_authenticated:
            raise exceptions.NotAuthenticated("Send a token: Authorization: Token <key>.")
        return user

    def own_patient(self) -> Patient | None:
        """The patient a patient's token belongs to; None for staff."""
        patient = self.actor.patient if self.actor.is_patient else None
        return patient if isinstance(patient, Patient) else None

    def require_scope(self, resource_type: str, interaction: str) -> None:
        if not scopes.allows(self.actor.role, resource_type, interaction):
            names = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
            raise FHIRError(
                403,
                "forbidden",
                f"Your scopes ({scopes.scope_string(self.actor.role) or 'none'}) do not allow "
                f"{names[interaction]} on {resource_type}.",
            )

    def shown(self, patient_ids: list[int | None]) -> None:
        patients_shown(self.request, patient_ids)

    def query_params(self) -> dict[str, list[str]]:
        return {name: self.request.query_params.getlist(name) for name in self.request.query_params}

    def body_json(self) -> dict[str, Any]:
        content_type = (self.request.content_type or "").split(";")[0].strip()
        if content_type not in (FHIR_JSON, "application/json"):
            raise FHIRError(415, "not-supported", f"Send the body as {FHIR_JSON}.")
        raw = self.request.body
        if len(raw) > MAX_BODY:
            raise FHIRError(413, "too-costly", "The request body is too large.")
        try:
            data = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise FHIRError(400, "structure", "The body is not JSON.") from exc
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            raise FHIRError(400, "structure", "The body must be one FHIR resource (a JSON object with resourceType).")
        return data

    def searchset(
        self,
        resources: list[Resource],
        *,
        total: int | None,
        page: Page,
        path: str,
        extra: list | None = None,
    ) -> Bundle:
        """A searchset Bundle: a self link as asked, and next/previous links that keep the query's
        parameters and hold their place with a `_page` cursor (interop/fhir/paging.py)."""
        base = base_url(self.request)
        asked = self.query_params()
        params = [(k, v) for k, values in asked.items() for v in values if k not in ("_offset", CURSOR)]

        def link(relation: str, query: list[tuple[str, str]]) -> dict[str, str]:
            text = urlencode(query)
            return {"relation": relation, "url": f"{base}{path}" + (f"?{text}" if text else "")}

        def cursor_link(relation: str, cursor: Cursor) -> dict[str, str]:
            sealed = write_cursor(cursor, params=asked, user_id=self.acting_user.pk, search=path)
            return link(relation, [*params, (CURSOR, sealed)])

        links = [link("self", [(k, v) for k, values in asked.items() for v in values])]
        if page.next is not None:
            links.append(cursor_link("next", page.next))
        if page.previous is not None:
            links.append(cursor_link("previous", page.previous))
        entries: list[dict[str, Any]] = [
            {
                "fullUrl": f"{base}{resource.get_resource_type()}/{resource.id}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ]
        entries += extra or []
        return Bundle(type="searchset", total=total, link=links, entry=entries or None)
