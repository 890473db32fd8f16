"""What scheduling announces to the apps above it, so it never imports them.

Two kinds, both sent inside the service's transaction:

- Gates, sent BEFORE the change: a receiver that raises a DomainError refuses it (Signal.send
  lets the exception through, so the whole transaction rolls back). The clinical app connects
  its session-record gates here.
- Announcements, sent AFTER the write, so a receiver that writes rows (the HL7 SIU feed's
  outbox in interop) commits or rolls back with the change itself. A receiver must be cheap
  when it has nothing to do: every booking pays for it. Each is sent with sender=Appointment
  and the keyword arguments `appointments` (the appointments written, in the order they were
  written; a course booking sends one signal with every session) and `actor` (the user who
  made the change, or None for the system).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.dispatch import Signal

from scheduling.models import Appointment

# --- gates (before the change) ---
# A checked-in session is about to move to the chair. Arguments: appointment, now.
appointment_starting = Signal()
# A session is about to be completed. Arguments: appointment, now.
appointment_completing = Signal()
# A checked-in session is about to be cancelled or have its check-in undone. Arguments: appointment, now.
appointment_releasing = Signal()

# --- announcements (after the write) ---
# New sessions: a single booking, a course, a re-flow, maintenance sessions added, a waitlist booking.
appointment_booked = Signal()
# A session's time changed (its chair and nurse may have changed too).
appointment_moved = Signal()
# Something else about a session changed: its chair or nurse only, or its status
# (confirmed, checked in, check-in undone, in the chair, completed).
appointment_changed = Signal()
# Cancelled, by the desk, the patient, or a plan change releasing future sessions.
appointment_cancelled = Signal()
# The patient did not come.
appointment_no_show = Signal()


def announce(signal: Signal, *, appointments: Sequence[Appointment], actor: AbstractBaseUser | None) -> None:
    """Send `signal` for `appointments`; nothing at all when there are none or nobody listens."""
    if appointments and signal.has_listeners(Appointment):
        signal.send(sender=Appointment, appointments=list(appointments), actor=actor)
