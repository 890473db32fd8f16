"""Scheduling's announcements (scheduling.signals) turned into SIU outbox rows, and the receiver
map forgotten when a receiver changes. Connected when interop.models is imported."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal

from scheduling import signals as scheduling_signals
from scheduling.models import Appointment

EVENTS: dict[Signal, str] = {
    scheduling_signals.appointment_booked: "S12",
    scheduling_signals.appointment_moved: "S13",
    scheduling_signals.appointment_changed: "S14",
    scheduling_signals.appointment_cancelled: "S15",
    scheduling_signals.appointment_no_show: "S26",
}


def _write_outbox(signal: Signal, appointments: list[Appointment], actor: Any = None, **_: Any) -> None:
    from interop.siu.outbox import siu_enqueue

    siu_enqueue(event=EVENTS[signal], appointments=appointments, actor=actor)


def _receiver_changed(**_: Any) -> None:
    from interop.siu.outbox import forget_receivers

    # At once for this transaction's own bookings, and again at commit for what others read meanwhile.
    forget_receivers()
    transaction.on_commit(forget_receivers)


for _signal in EVENTS:
    _signal.connect(_write_outbox, sender=Appointment, dispatch_uid=f"interop.siu.{EVENTS[_signal]}")

post_save.connect(_receiver_changed, sender="interop.SiuReceiver", dispatch_uid="interop.siu.receiver_saved")
post_delete.connect(_receiver_changed, sender="interop.SiuReceiver", dispatch_uid="interop.siu.receiver_deleted")
