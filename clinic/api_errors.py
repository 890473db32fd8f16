"""One error shape for the whole API, and its OpenAPI description.

Every error answers {"error": {"code", "message", "fields", "details"}}:
`fields` holds per-field input problems (400), `details` anything else a client
can act on (the conflicting time, the alternatives when a course does not fit,
the plan's current version, how long to wait when throttled).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from clinic.errors import DomainError

log = logging.getLogger(__name__)


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_code = "precondition_required"
    default_detail = "Send the version you read in an If-Match header (or a `version` field)."


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = (
        "This request does not evaluate If-Match (the resource carries no ETag, or this action is not "
        "tied to its version), so the condition cannot hold (RFC 9110 §13.1.1): send it without If-Match."
    )


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The request body is too large."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The change conflicts with the current data."


def error_body(code: str, message: str, *, fields: dict | None = None, details: dict | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}, "details": details or {}}}


@csrf_exempt  # it changes nothing, so a POST to a typo is told 404, not a CSRF page
def api_not_found(request: Any, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any /api/ path that matches no route (a malformed id, a typo) answers in the API's error
    shape, not with the HTML page."""
    return JsonResponse(error_body("not_found", "No API resource at this address."), status=404)


API_PREFIX = "/api/"

# Answers Django itself makes before or around a view (CSRF, body size, a crash) and their codes.
_STATUS_CODES = {
    400: ("bad_request", "The request could not be read."),
    403: ("forbidden", "Forbidden."),
    404: ("not_found", "No API resource at this address."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("request_too_large", "The request body is too large."),
    500: ("server_error", "Something went wrong on our side; the change was not made."),
}


def _too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        error_body("request_too_large", "The request body is too large.", details={"max_bytes": limit}), status=413
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the API's error shape under /api/, Django's page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body("csrf_failed", f"CSRF check failed: {reason}"), status=403)
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason=reason)


class ApiErrorShapeMiddleware:
    """Every /api/ answer is JSON: errors Django produces outside DRF (a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, a CSRF refusal, a crash page) are rewritten into the one
    error shape. Placed near the top so it wraps the CSRF and session middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            # Refused before anything reads the body; Django would answer a bare 400 page.
            return _too_large()
        response = self.get_response(request)
        if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
            return response
        code, message = _STATUS_CODES.get(response.status_code, ("error", "The request failed."))
        shaped = JsonResponse(error_body(code, message), status=response.status_code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                shaped[header] = response[header]
        return shaped


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
    if isinstance(exc, DomainError):
        # An input a service refused names its field in `details.field`; it is put in `fields` too,
        # where a client looks for the per-field problems of a 400.
        field = (exc.details or {}).get("field")
        fields = {field: [exc.message]} if exc.http_status == 400 and isinstance(field, str) else None
        body = error_body(exc.code, exc.message, fields=fields, details=exc.details)
        set_rollback()
        return Response(body, status=exc.http_status)
    if isinstance(exc, RequestDataTooBig):
        # Only a chunked body without Content-Length gets this far (the middleware refuses the rest).
        exc = PayloadTooLarge()
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
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
    details = serializers.DictField(
        help_text=(
            "Anything else a client can act on (alternatives, current_version, ...). A booking_conflict carries "
            "`reason`: patient_busy, chair_taken, taken_concurrently, nurse_at_capacity, nurse_setup_busy, nurse_off_shift, site_closed, "
            "outside_opening_hours, chair_out_of_use, chair_not_equipped, chair_not_at_site or sequence_taken. A course_does_not_fit "
            "carries `alternatives`, each with `site` and `sessions` in the shape book-course accepts."
        )
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    "400": "Invalid input",
    "401": "Not signed in",
    "403": "Your role does not allow this",
    "404": "Not found (or not yours)",
    "409": "Conflict: booking clash (details.reason says which), wrong state, stale version or the course does not fit",
    "413": "Request body too large",
    "415": "Unsupported media type",
    "412": "If-Match does not hold: changed since you read it (changed_since_read), or sent where it is not evaluated",
    "422": "Idempotency-Key reused with a different request",
    "428": "If-Match (or version) required",
    "429": "Throttled",
}


def error_response(code: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=ERROR_DESCRIPTIONS[code])


# A view with `representation_etags` (clinic.api.ClinicAPIMixin): its detail answers carry the
# ETag, and its writes to one object may send it back.
REPRESENTATION_ETAG_HEADER = OpenApiParameter(
    name="ETag",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    response=[200, 201],
    description="A digest of this representation: send it back as If-Match to change it only as you read it.",
)
REPRESENTATION_IF_MATCH_HEADER = OpenApiParameter(
    name="If-Match",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional. The ETag you read: the change is made only if nobody changed it since "
        "(412 `changed_since_read` otherwise, with `details.current_etag`)."
    ),
)
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class ClinicAutoSchema(AutoSchema):
    """AutoSchema that documents the error shape on every operation, plus the codes a view
    declares in `error_codes` (per action or "*"), and the ETag and If-Match of views whose
    objects carry representation tags."""

    def _tags_representation(self) -> bool:
        return bool(getattr(self.view, "representation_etags", False)) and "{id}" in self.path

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._tags_representation():
            parameters.append(REPRESENTATION_ETAG_HEADER)
            if self.method in WRITES:
                parameters.append(REPRESENTATION_IF_MATCH_HEADER)
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["400", "401", "403", "404", "429"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("415")
        if self.method in WRITES and self._tags_representation():
            codes.append("412")
        extra = getattr(self.view, "error_codes", {})
        action = getattr(self.view, "action", None)
        codes += list(extra.get(action, extra.get("*", ())))
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(error_response(code), code, direction=direction)
        return responses
