"""Celery tasks: thin wrappers that call one service each."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from clinic.models import Role, Site
from scheduling.reminders.selectors import front_desk_daily_list
from scheduling.reminders.services import reminders_dispatch_due

DISPATCH_BATCH_SIZE = 100
# The local hour (site's zone) at which the front desk gets tomorrow's list.
FRONT_DESK_LIST_HOUR = 16


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
    """Run hourly: each site whose local time is FRONT_DESK_LIST_HOUR gets
    tomorrow's unconfirmed sessions and missing rides by email."""
    now = timezone.now()
    sent = 0
    for site in Site.objects.all():
        local_now = now.astimezone(site.zone)
        if local_now.hour != FRONT_DESK_LIST_HOUR:
            continue
        recipients = [
            email
            for email in site.staff.filter(active=True, role=Role.FRONT_DESK).values_list("user__email", flat=True)
            if email
        ]
        if not recipients:
            continue
        daily = front_desk_daily_list(site=site, day=local_now.date() + dt.timedelta(days=1))
        with timezone.override(site.zone):
            body = render_to_string("scheduling/reminders/front_desk_daily_list.txt", {"daily": daily})
        send_mail(
            subject=f"{site.name}: tomorrow, {len(daily.not_confirmed)} not confirmed, {len(daily.without_ride)} without a ride",
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
        sent += 1
    return sent
