"""The scheduling REST API, split by sub-domain: appointments and reminders, plans and
protocols, and the site board (free slots, day board, sessions to move)."""

from scheduling.api.appointments import AppointmentViewSet, ReminderViewSet
from scheduling.api.board import DayBoardView, FreeSlotsView, SessionsToMoveView
from scheduling.api.patients import PatientViewSet
from scheduling.api.plans import PlanViewSet, ProtocolViewSet

__all__ = [
    "AppointmentViewSet",
    "DayBoardView",
    "FreeSlotsView",
    "PatientViewSet",
    "PlanViewSet",
    "ProtocolViewSet",
    "ReminderViewSet",
    "SessionsToMoveView",
]
