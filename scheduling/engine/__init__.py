"""The scheduling engine: plain Python over plain values (no ORM).

scheduling.services loads a SiteSnapshot from the database, asks the planner,
and writes what it returns."""

from scheduling.engine.availability import Availability
from scheduling.engine.model import (
    ChairState,
    DayProblem,
    DaySlots,
    InductionRule,
    NoFit,
    NurseState,
    Preferences,
    Proposal,
    SiteSnapshot,
    Slot,
    Span,
)
from scheduling.engine.planner import (
    Alternative,
    MaintenanceRule,
    find_alternatives,
    propose_additional,
    propose_induction,
    propose_maintenance,
    remaining_weekly_counts,
)

__all__ = [
    "Alternative",
    "Availability",
    "ChairState",
    "DayProblem",
    "DaySlots",
    "InductionRule",
    "MaintenanceRule",
    "NoFit",
    "NurseState",
    "Preferences",
    "Proposal",
    "SiteSnapshot",
    "Slot",
    "Span",
    "find_alternatives",
    "propose_additional",
    "propose_induction",
    "propose_maintenance",
    "remaining_weekly_counts",
]
