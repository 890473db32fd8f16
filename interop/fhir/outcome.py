"""Every error the FHIR server answers is an OperationOutcome (built with fhir.resources) whose
issue code a client can act on, with the HTTP status that goes with it. One mapping from our
services' errors, Django's and DRF's to those codes, so no path answers a bare 500 or HTML."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from fhir.resources.R4B.operationoutcome import OperationOutcome
from pydantic import ValidationError as PydanticValidationError
from rest_framework import exceptions

from clinic.errors import DomainError, InvalidInput, InvalidState
from scheduling.errors import (
    BookingConflict,
    CourseDoesNotFit,
    IdempotencyKeyReused,
    NotEligible,
    PlanRuleBroken,
    StaleVersion,
)

log = logging.getLogger(__name__)

# Our own machine-readable reasons (booking_conflict's `details.reason`, …) travel in
# issue.details.coding under this system, so a client can branch on more than the issue type.
REASON_SYSTEM = "urn:clinic-scheduler:fhir:reason"


class FHIRError(Exception):
    """An answer the server chose: `code` is a FHIR IssueType, `status` the HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, *, reason: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reason = reason
        self.headers = headers or {}


def not_found(resource_type: str, resource_id: str) -> FHIRError:
    return FHIRError(404, "not-found", f"{resource_type}/{resource_id} is not known.")


def invalid(message: str, *, reason: str = "") -> FHIRError:
    return FHIRError(400, "invalid", message, reason=reason)


def not_supported(message: str) -> FHIRError:
    return FHIRError(400, "not-supported", message)


def outcome(code: str, message: str, *, reason: str = "", severity: str = "error") -> OperationOutcome:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
    if reason:
        issue["details"] = {"coding": [{"system": REASON_SYSTEM, "code": reason}], "text": message}
    return OperationOutcome(issue=[issue])


# Our services' errors: the IssueType and status a client acts on.
_SCHEDULING = (
    (BookingConflict, 409, "conflict"),
    (StaleVersion, 412, "conflict"),
    (PlanRuleBroken, 409, "business-rule"),
    (CourseDoesNotFit, 409, "business-rule"),
    (NotEligible, 409, "business-rule"),
    (InvalidState, 409, "business-rule"),
    (InvalidInput, 400, "invalid"),
    (IdempotencyKeyReused, 422, "business-rule"),
)


def _pydantic_message(exc: PydanticValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", "invalid"))
    return "The resource is not valid FHIR R4: " + "; ".join(problems)


def error_for(exc: Exception) -> FHIRError:
    """The FHIRError for any exception a FHIR view let through."""
    if isinstance(exc, FHIRError):
        return exc
    if isinstance(exc, DomainError):
        reason = str(exc.details.get("reason") or exc.code)
        for kind, status, code in _SCHEDULING:
            if isinstance(exc, kind):
                return FHIRError(status, code, exc.message, reason=reason)
        if exc.http_status == 403:
            return FHIRError(403, "forbidden", exc.message, reason=exc.code)
        return FHIRError(
            exc.http_status if 400 <= exc.http_status < 500 else 400, "processing", exc.message, reason=reason
        )
    if isinstance(exc, PydanticValidationError):
        return FHIRError(400, "structure", _pydantic_message(exc))
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        return FHIRError(404, "not-found", "No such resource.")
    if isinstance(exc, (DjangoValidationError, DataError, ValueError, OverflowError)):
        return FHIRError(400, "invalid", f"The request could not be used: {exc}"[:500])
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return FHIRError(401, "login", str(exc.detail), headers={"WWW-Authenticate": "Token"})
    if isinstance(exc, exceptions.Throttled):
        # DRF sets `wait` (seconds, or None) in Throttled.__init__; the stubs do not declare it.
        wait = getattr(exc, "wait", None) or 1
        return FHIRError(429, "throttled", str(exc.detail), headers={"Retry-After": str(int(wait))})
    if isinstance(exc, exceptions.PermissionDenied):
        return FHIRError(403, "forbidden", str(exc.detail))
    if isinstance(exc, exceptions.MethodNotAllowed):
        return FHIRError(405, "not-supported", str(exc.detail))
    if isinstance(exc, exceptions.APIException):
        status = exc.status_code if 400 <= exc.status_code < 500 else 400
        return FHIRError(status, "processing", str(exc.detail))
    log.exception("FHIR request failed")
    return FHIRError(500, "exception", "Something went wrong on our side; nothing was changed.")
