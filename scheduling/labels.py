"""How a session is named to people: the same words on every page (chart, board, portal, the
pages that name one session) and in the SIU feed's SCH-7, so the EHR reads what the desk reads."""

from __future__ import annotations

from scheduling.models import Appointment, AppointmentStatus, Phase


def session_label(appointment: Appointment) -> str:
    """'Session 3 of 6' for induction; after it 'Maintenance (session 8 of the course)': the number
    counts the whole course, so it is said so ('Maintenance, session 7' read as the seventh
    maintenance session). Reads the plan's protocol: load it with the session."""
    if not appointment.plan_id or not appointment.sequence:
        return "Single session"
    if not appointment.is_blocking:
        # Its number is taken over by its replacement, so it means nothing now: said is what became
        # of it (cancelled by someone, missed, or released with its plan: paused, ended, re-planned).
        phase = "induction" if appointment.phase == Phase.INDUCTION else "maintenance"
        if appointment.status == AppointmentStatus.NO_SHOW:
            return f"Missed {phase} session (no-show)"
        if appointment.released_with_plan:
            return f"Released {phase} session"
        return f"Cancelled {phase} session"
    if appointment.phase == Phase.INDUCTION:
        total = appointment.plan.protocol.induction_session_count
        prefix = f"Round {appointment.induction_round}, " if appointment.induction_round > 1 else ""
        return f"{prefix}Session {appointment.sequence} of {total}" if total else f"Session {appointment.sequence}"
    return f"Maintenance (session {appointment.sequence} of the course)"
