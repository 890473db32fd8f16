"""Errors of the session record. They are scheduling errors, so the API's one error
shape and the pages' flash messages already know how to show them."""

from __future__ import annotations

from scheduling.errors import InvalidInput, InvalidState


class StartHeld(InvalidState):
    """Pre-infusion vitals are missing, or outside the clinic's limits and not cleared."""

    code = "start_held"

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("Start held: " + "; ".join(reasons) + ".", details={"reasons": reasons})
        self.reasons = reasons


class SessionRecordIncomplete(InvalidState):
    """The session cannot be completed until its clinical record is."""

    code = "session_record_incomplete"

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("Not completed: " + "; ".join(reasons) + ".", details={"reasons": reasons})
        self.reasons = reasons


class ShortInfusion(InvalidInput):
    """An IV infusion recorded as lasting under half its protocol's minutes, without a reason: the
    session page then asks for the reason beside the error."""

    code = "short_infusion"
