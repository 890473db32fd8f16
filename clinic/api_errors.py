"""One error shape for the whole API, and its OpenAPI description.

Every error answers {"error": {"code", "message", "fields", "details"}}:
`fields` holds per-field input problems (400), `details` anything else a client
can act on (the conflicting time, the alternatives when a course does not fit,
the plan's current version, how long to wait when throttled).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, JsonResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from scheduling.errors import SchedulingError

log = logging.getLogger(__name__)


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_code = "precondition_required"
    default_detail = "Send the version you read in an If-Match header (or a `version` field)."


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was already used for a different request."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The change conflicts with the current data."


def error_body(code: str, message: str, *, fields: dict | None = None, details: dict | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}, "details": details or {}}}


def api_not_found(request: Any, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any /api/ path that matches no route (a malformed id, a typo) answers in the API's error
    shape, not with the HTML page."""
    return JsonResponse(error_body("not_found", "No API resource at this address."), status=404)


def _first_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        return f"{key}: {_first_message(value)}"
    return str(detail)


def _validation_fields(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {str(key): value for key, value in detail.items()}
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every known failure becomes the one error shape."""
    headers: dict[str, str] = {}
    if isinstance(exc, SchedulingError):
        body = error_body(exc.code, exc.message, details=exc.details)
        set_rollback()
        return Response(body, status=exc.http_status)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, ProtectedError | RestrictedError):
        exc = Conflict("Other records still refer to this one, so it cannot be deleted; deactivate it instead.")
    elif isinstance(exc, IntegrityError):
        log.warning("API write refused by a database constraint: %s", exc)
        exc = Conflict("The change was refused by a database rule (a duplicate or an inconsistent value).")
    elif isinstance(exc, DataError | OverflowError):
        exc = exceptions.ValidationError({"non_field_errors": ["A value is out of range."]})
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        fields = _validation_fields(exc.detail)
        body = error_body("invalid", "Invalid input: " + _first_message(exc.detail), fields=fields)
    else:
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        details: dict[str, Any] = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            details["retry_after_seconds"] = int(exc.wait)
            headers["Retry-After"] = str(int(exc.wait))
        body = error_body(str(code), str(exc.detail), details=details)
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


# --- OpenAPI -----------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. booking_conflict, stale_version, not_found.")
    message = serializers.CharField(help_text="A sentence a receptionist can read.")
    fields = serializers.DictField(help_text="Per-field input problems (400).")
    details = serializers.DictField(help_text="Anything else a client can act on (alternatives, current_version, ...).")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    "400": "Invalid input",
    "401": "Not signed in",
    "403": "Your role does not allow this",
    "404": "Not found (or not yours)",
    "409": "Conflict: booking clash, wrong state, stale version or the course does not fit",
    "415": "Unsupported media type",
    "422": "Idempotency-Key reused with a different request",
    "428": "If-Match (or version) required",
    "429": "Throttled",
}


def error_response(code: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=ERROR_DESCRIPTIONS[code])


class ClinicAutoSchema(AutoSchema):
    """AutoSchema that documents the error shape on every operation, plus the codes a view
    declares in `error_codes` (per action or "*")."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["400", "401", "403", "404", "429"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("415")
        extra = getattr(self.view, "error_codes", {})
        action = getattr(self.view, "action", None)
        codes += list(extra.get(action, extra.get("*", ())))
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(error_response(code), code, direction=direction)
        return responses
