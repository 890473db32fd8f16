"""The scheduling app's reactions to its own domain events (connected in SchedulingConfig.ready)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.dispatch import receiver

from scheduling.events import session_freed
from scheduling.tasks import waitlist_offer

logger = logging.getLogger(__name__)


@receiver(session_freed, dispatch_uid="scheduling.waitlist.offer_freed_chair")
def offer_freed_chair(*, appointment_id: int, happened: str, now: dt.datetime, **_: Any) -> None:
    """A cancelled session's chair goes to the waitlist in a Celery task (a missed session's time
    has passed: nothing to offer). If the broker cannot take the task, the cancel stands and
    the periodic sweep (`waitlist_offers_sweep`) makes the offer later."""
    if happened != "cancelled":
        return
    try:
        waitlist_offer.delay(appointment_id, now.isoformat())
    except Exception:  # kombu's OperationalError and friends: the broker is down
        logger.exception(
            "Waitlist offer for cancelled session %s not queued; the waitlist sweep will make it", appointment_id
        )
