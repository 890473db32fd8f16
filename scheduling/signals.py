"""What scheduling announces to the apps above it, so it never imports them.

Sent inside the service's transaction, before the change; a receiver that raises a
DomainError refuses the change (Signal.send lets the exception through, so the whole
transaction rolls back). The clinical app connects its session-record gates here.
"""

from django.dispatch import Signal

# A checked-in session is about to move to the chair. Arguments: appointment, now.
appointment_starting = Signal()
# A session is about to be completed. Arguments: appointment, now.
appointment_completing = Signal()
