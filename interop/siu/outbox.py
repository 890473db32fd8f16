"""Writes to the SIU outbox, in the transaction of the scheduling change they report.

Whether a site's feed is on is asked on every booking, so the answer comes from a per-process
map of the enabled receivers (site id -> receiver id), read at most once every
SIU_RECEIVER_CACHE_SECONDS. With the feed off a booking pays one dictionary lookup and no
statement. A receiver saved or deleted in this process clears the map at once; other processes
see the change within SIU_RECEIVER_CACHE_SECONDS."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from interop.siu.messages import appointments_for_messages, siu_message
from interop.siu.models import SiuMessage, SiuReceiver, SiuStatus, new_control_id
from scheduling.models import Appointment

logger = logging.getLogger(__name__)

_receivers: tuple[float, dict[int, int]] | None = None
_lock = threading.Lock()


def enabled_receivers() -> dict[int, int]:
    """Site id -> id of its enabled receiver (sites without one have their feed off)."""
    global _receivers
    cached = _receivers
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    with _lock:
        mapping = dict(SiuReceiver.objects.filter(enabled=True).values_list("site_id", "pk"))
        _receivers = (time.monotonic() + settings.SIU_RECEIVER_CACHE_SECONDS, mapping)
    return mapping


def forget_receivers() -> None:
    global _receivers
    _receivers = None


def siu_enqueue(*, event: str, appointments: Sequence[Appointment], actor: AbstractBaseUser | None) -> list[SiuMessage]:
    """Write one outbox message per appointment whose site's feed is on, in the caller's
    transaction, and ask for delivery once it commits. Nothing (not even a statement) when off."""
    receivers = enabled_receivers()
    if not any(a.site_id in receivers for a in appointments):
        return []
    # The map may be a few seconds old, so it only says which sites to look at: each site's
    # receiver is read again by site. One since turned off, deleted or moved to another site
    # elsewhere is not found here (that site's feed is off), and never gets this site's patients.
    receiver_rows = {
        row.site_id: row
        for row in SiuReceiver.objects.filter(
            enabled=True, site_id__in={a.site_id for a in appointments if a.site_id in receivers}
        )
    }
    wanted = [a.pk for a in appointments if a.site_id in receiver_rows]
    if not wanted:
        return []
    loaded = {a.pk: a for a in appointments_for_messages(wanted)}
    last = dict(
        SiuMessage.objects.filter(appointment_id__in=wanted)
        .values("appointment_id")
        .annotate(last=Max("sequence"))
        .values_list("appointment_id", "last")
    )
    now = timezone.now()
    rows = []
    for pk in wanted:
        appointment = loaded[pk]
        receiver = receiver_rows[appointment.site_id]
        control_id = new_control_id()
        rows.append(
            SiuMessage(
                appointment=appointment,
                receiver=receiver,
                event=event,
                sequence=last.get(pk, 0) + 1,
                control_id=control_id,
                payload=siu_message(
                    appointment=appointment, event=event, control_id=control_id, receiver=receiver, now=now, actor=actor
                ),
                status=SiuStatus.PENDING,
                next_attempt_at=now,
                created_at=now,
            )
        )
    created = SiuMessage.objects.bulk_create(rows)
    _deliver_on_commit()
    return created


def _deliver_on_commit() -> None:
    """Queue one delivery task when the transaction commits (once, however many messages it
    wrote); beat's periodic run picks up anything a lost task leaves behind."""
    # Each entry is (savepoint ids, function, robust); index 1 is the function whatever the length.
    if any(entry[1] is kick_delivery for entry in connection.run_on_commit):
        return
    transaction.on_commit(kick_delivery, robust=True)


DELIVER_TASK = "interop.tasks.siu_deliver"


def queue_delivery() -> None:
    # By name: interop.tasks imports this package, so this package does not import it back.
    # Through a signature, not send_task: it honours CELERY_TASK_ALWAYS_EAGER (no worker) as well.
    current_app.signature(DELIVER_TASK).apply_async(expires=float(settings.SIU_DELIVER_EVERY))


def kick_delivery() -> None:
    try:
        queue_delivery()
    except Exception:  # a broker hiccup must not fail a committed booking; beat catches up
        logger.warning("Could not queue SIU delivery; the periodic run will send the messages.", exc_info=True)
