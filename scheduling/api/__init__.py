"""The scheduling REST API, split by sub-domain: appointments and reminders, plans and
protocols, and the site board (free slots, day board)."""

from scheduling.api.appointments import AppointmentViewSet, ReminderViewSet
from scheduling.api.board import DayBoardView, FreeSlotsView
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
]
