"""Celery tasks: thin wrappers that call one service each."""

from __future__ import annotations

import dataclasses
import time

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from scheduling.reminders.services import front_desk_lists_send_due, reminders_dispatch_due

DISPATCH_BATCH_SIZE = 100


@shared_task(name="scheduling.tasks.dispatch_due_reminders", ignore_result=True)
def dispatch_due_reminders() -> dict[str, int]:
    """Run batches until nothing is due or the beat interval is used up; the
    next beat tick picks up the rest. Several workers may run this at once."""
    totals: dict[str, int] = {}
    started = time.monotonic()
    while True:
        report = reminders_dispatch_due(batch_size=DISPATCH_BATCH_SIZE)
        for key, value in dataclasses.asdict(report).items():
            totals[key] = totals.get(key, 0) + value
        if report.claimed < DISPATCH_BATCH_SIZE or time.monotonic() - started > settings.REMINDER_DISPATCH_EVERY:
            return totals


@shared_task(name="scheduling.tasks.send_front_desk_daily_lists", ignore_result=True)
def send_front_desk_daily_lists() -> int:
    """Run hourly: each site's list for tomorrow, once per site and day."""
    return front_desk_lists_send_due(now=timezone.now())
