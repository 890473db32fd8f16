"""Celery tasks: thin wrappers that call one service each."""

from __future__ import annotations

import dataclasses

from celery import shared_task
from django.utils import timezone

from interop.fhir.find_reasons import find_reasons_purge
from interop.siu.delivery import siu_deliver_due


@shared_task(name="interop.tasks.siu_deliver", ignore_result=True)
def siu_deliver() -> dict[str, int]:
    """Send the SIU messages that are due (beat runs it every SIU_DELIVER_EVERY seconds; a booking
    queues one when it commits). Several may run at once: claims skip each other's rows."""
    return dataclasses.asdict(siu_deliver_due(now=timezone.now()))


@shared_task(name="interop.tasks.find_reasons_purge", ignore_result=True)
def purge_find_reasons() -> int:
    """Run hourly by beat: delete the $find reasons no proposal id still in date names."""
    return find_reasons_purge(now=timezone.now())
