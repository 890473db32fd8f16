"""What happened to a session, announced once the transaction that did it commits.

The write services (scheduling.services.appointments) say what happened and do not know
who listens; the waitlist (scheduling.receivers) reacts by queueing its offer task. So a
cancellation neither imports the waitlist nor waits for it, and a listener that fails
(a broker that is down) cannot undo the cancel: the callback runs after the commit and
`robust` only logs its errors."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.db import transaction
from django.dispatch import Signal

# Sent after commit with appointment_id (int), happened ("cancelled" or "missed") and
# now (the aware instant the service acted at).
session_freed = Signal()

Happened = Literal["cancelled", "missed"]


def announce_session_freed(*, appointment_id: int, happened: Happened, now: dt.datetime) -> None:
    """Tell the listeners, once the current transaction commits, that a session's chair is free."""
    transaction.on_commit(
        lambda: session_freed.send(sender=None, appointment_id=appointment_id, happened=happened, now=now),
        robust=True,
    )
