"""The base of every domain error. Each carries a machine-readable code, a message a
receptionist can read, and the HTTP status the API maps it to (clinic/api_errors.py maps
any DomainError, so the base layer never needs to know the apps above it).

The apps subclass it (scheduling.errors.SchedulingError, clinical.errors, the permission
refusals in clinic/permissions.py); pages catch DomainError to show the message."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    http_status = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(DomainError):
    code = "invalid"
    http_status = 400


class InvalidState(DomainError):
    """The object is not in a state that allows this action (e.g. completing a cancelled session)."""

    code = "invalid_state"
    http_status = 409
