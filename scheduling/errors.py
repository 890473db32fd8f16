"""Errors the scheduling services raise. Each carries a machine-readable code,
a message a receptionist can read, and the HTTP status the API maps it to.
Messages never name another patient. They are clinic.errors.DomainError subclasses,
so the API maps them without knowing this app."""

from __future__ import annotations

from clinic import errors as base


class SchedulingError(base.DomainError):
    code = "scheduling_error"
    http_status = 400


class InvalidInput(SchedulingError, base.InvalidInput):
    code = "invalid"
    http_status = 400


class InvalidState(SchedulingError, base.InvalidState):
    """The object is not in a state that allows this action (e.g. completing a cancelled session)."""

    code = "invalid_state"
    http_status = 409


class CheckInNotOpen(InvalidState):
    """Check-in is only possible on the session's own local day, from the clinic's opening time for it."""

    code = "check_in_not_open"


class TooLateForOnlineChange(InvalidState):
    """A patient's own change (portal, reminder link, API) inside the site's notice period: they call."""

    code = "too_late_for_online_change"


class BookingConflict(SchedulingError):
    """A chair, patient or nurse is already taken at that time."""

    code = "booking_conflict"
    http_status = 409


class IdempotencyKeyReused(SchedulingError):
    """An Idempotency-Key already answered another request (scheduling.services.idempotency)."""

    code = "idempotency_key_reused"
    http_status = 422


class StaleVersion(SchedulingError):
    code = "stale_version"
    http_status = 409

    @classmethod
    def of_plan(cls, *, current: int, edited: int) -> StaleVersion:
        """A plan changed since the version the asker edited (the service's lock, the chart's form)."""
        return cls(
            f"The plan was changed by someone else (now version {current}, you edited version {edited}). "
            "Reload it and apply your change again.",
            details={"current_version": current},
        )


class CourseDoesNotFit(SchedulingError):
    """No complete course fits; `details` holds the reasons and the nearest alternatives."""

    code = "course_does_not_fit"
    http_status = 409


class PlanRuleBroken(SchedulingError):
    """The change would break the plan's rules; a prescriber may accept it with a reason."""

    code = "plan_rule_broken"
    http_status = 409

    def __init__(self, violations: list[str], *, can_override: bool) -> None:
        message = "This change breaks the plan's rules: " + "; ".join(violations)
        super().__init__(message, details={"violations": violations, "can_override": can_override})
        self.violations = violations


class NotEligible(SchedulingError):
    """The patient's screening says no without a prescriber's documented override."""

    code = "not_eligible"
    http_status = 409
