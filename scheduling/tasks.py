"""Celery tasks: thin wrappers that call one service each."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import time

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from clinic.models import Site
from scheduling.engine.placement import LEVEL
from scheduling.models import DayPlan, DayTemplate, DayTemplateState
from scheduling.reminders.services import front_desk_lists_send_due, reminders_dispatch_due
from scheduling.services.day_plans import day_plans_refresh
from scheduling.services.day_template import (
    OUT_OF_TIME,
    REGENERATE_TASK,
    RUN_STOPPED,
    day_template_fail,
    day_template_regenerate,
)
from scheduling.services.holds import holds_release_expired
from scheduling.services.waitlist import waitlist_offer_freed_slot, waitlist_offers_sweep

logger = logging.getLogger(__name__)

DISPATCH_BATCH_SIZE = 100


# A run is batches until REMINDER_DISPATCH_EVERY has passed, and a batch stops itself before its
# lease runs short: the run's limit lies past both, so it only fires on a send that hangs.
DISPATCH_SOFT_LIMIT = (
    settings.REMINDER_DISPATCH_EVERY + settings.REMINDER_LEASE_SECONDS + settings.REMINDER_SEND_TIMEOUT_SECONDS
)


@shared_task(
    name="scheduling.tasks.dispatch_due_reminders",
    ignore_result=True,
    soft_time_limit=DISPATCH_SOFT_LIMIT,
    time_limit=DISPATCH_SOFT_LIMIT + 30,
)
def dispatch_due_reminders(helper: bool = False) -> dict[str, int]:
    """Run batches until nothing is due or the beat interval is used up; the
    next beat tick picks up the rest. Several workers may run this at once:
    claims skip each other's rows.

    Beat enqueues one of these per tick, which alone keeps one worker busy
    however many there are. So when the first batch comes back full (a
    backlog), the beat's task enqueues REMINDER_DISPATCH_FAN_OUT helpers, which
    do not fan out again: at most 1 + fan-out dispatchers per tick, each
    bounded by the same time budget."""
    totals: dict[str, int] = {}
    started = time.monotonic()
    fanned_out = helper

    def fan_out() -> None:
        # Called once the first claim comes back full, before its batch is sent: the helpers start
        # while this batch is being sent, rather than after it.
        nonlocal fanned_out
        if fanned_out:
            return
        fanned_out = True
        try:
            for _ in range(settings.REMINDER_DISPATCH_FAN_OUT):
                # Expire with the tick, so helpers queued behind a busy worker do not pile up.
                dispatch_due_reminders.apply_async(
                    kwargs={"helper": True}, expires=float(settings.REMINDER_DISPATCH_EVERY)
                )
        except Exception:
            # The batch just claimed is sent all the same: a broker that takes no helpers only
            # leaves this dispatcher to work alone.
            logger.warning("Reminder dispatch could not enqueue its helpers", exc_info=True)

    while True:
        report = reminders_dispatch_due(batch_size=DISPATCH_BATCH_SIZE, on_full_claim=fan_out)
        for key, value in dataclasses.asdict(report).items():
            totals[key] = totals.get(key, 0) + value
        backlog = report.claimed >= DISPATCH_BATCH_SIZE
        if not backlog or time.monotonic() - started > settings.REMINDER_DISPATCH_EVERY:
            return totals


@shared_task(name="scheduling.tasks.send_front_desk_daily_lists", ignore_result=True)
def send_front_desk_daily_lists() -> int:
    """Run hourly: each site's list for tomorrow, once per site and day."""
    return front_desk_lists_send_due(now=timezone.now())


@shared_task(name="scheduling.tasks.release_expired_holds", ignore_result=True)
def release_expired_holds() -> int:
    """Run every minute: cancel the holds (FHIR $hold) that lapsed, so their time is free again."""
    return holds_release_expired(now=timezone.now())


@shared_task(name="scheduling.tasks.waitlist_offer", ignore_result=True)
def waitlist_offer(appointment_id: int, now: str) -> int:
    """Queued after a cancel commits, with the cancel's instant: offer the freed chair (a second run
    offers nothing more). It runs at the later of that instant and the clock: a task that waited in
    the queue (a worker down, a backlog) must not offer a session that has started since, nor date
    its offers and messages by the cancel's minute."""
    queued_at = dt.datetime.fromisoformat(now)
    if timezone.is_naive(queued_at):  # queued by hand without a zone: read it as UTC, as stored
        queued_at = queued_at.replace(tzinfo=dt.UTC)
    return len(waitlist_offer_freed_slot(appointment_id=appointment_id, now=max(queued_at, timezone.now())))


@shared_task(name="scheduling.tasks.waitlist_offers_sweep", ignore_result=True)
def sweep_waitlist_offers() -> int:
    """Run by beat: offer the openings whose offer task was lost (the broker was down), and the
    chairs still free whose offers have all closed, to the next waiting patients."""
    return waitlist_offers_sweep(now=timezone.now())


def day_template_soft_limit(solver_seconds: float) -> int:
    """The template task's soft time limit: the solver's own limit plus room to load its inputs
    and write the result. Derived from the setting, so a longer solver limit never meets a task
    limit that would cut every run short (each would be kept as out of time)."""
    return math.ceil(solver_seconds) + 20


DAY_TEMPLATE_SOFT_LIMIT = day_template_soft_limit(settings.DAY_TEMPLATE_TIME_LIMIT_SECONDS)


@shared_task(
    name=REGENERATE_TASK,
    ignore_result=True,
    soft_time_limit=DAY_TEMPLATE_SOFT_LIMIT,
    time_limit=DAY_TEMPLATE_SOFT_LIMIT + 15,
)
def regenerate_day_template(attempt_id: int) -> str:
    """Compute one queued day template; out of time, the run is marked failed and the template in use stays."""
    attempt = DayTemplate.objects.select_related("site", "computed_by").filter(pk=attempt_id).first()
    if attempt is None or attempt.state != DayTemplateState.PENDING:
        return "skipped"
    try:
        result = day_template_regenerate(
            site=attempt.site, actor=attempt.computed_by, now=timezone.now(), attempt=attempt
        )
    except SoftTimeLimitExceeded:
        result = day_template_fail(attempt=attempt, now=timezone.now(), error=OUT_OF_TIME)
    except Exception:
        # Failing outside the solver (reading its inputs, writing the result) must not leave the
        # row queued: the page would poll it and a new request be handed it until it is stale.
        day_template_fail(attempt=attempt, now=timezone.now(), error=RUN_STOPPED)
        raise  # for Celery to log
    else:
        if result.state == DayTemplateState.DONE:
            # The coming days' plans were solved from the old template: solve them again now.
            refresh_day_plans.delay(attempt.site_id)
    return result.state


# A site's refresh solves up to PLAN_SOLVES_PER_RUN days, a second or two each: stopped at its
# limit it keeps the days solved so far and the next run goes on from there.
DAY_PLANS_RUN_SECONDS = 240


def day_plans_soft_limit(solver_seconds: float) -> int:
    """The day-plan refresh's soft time limit: the run's own budget, and always past one day's
    solve (the solver's limit plus room to load and write it), or a run could plan no day at all."""
    return max(DAY_PLANS_RUN_SECONDS, math.ceil(solver_seconds) + 30)


DAY_PLANS_SOFT_LIMIT = day_plans_soft_limit(settings.DAY_PLAN_TIME_LIMIT_SECONDS)


@shared_task(
    name="scheduling.tasks.refresh_day_plans",
    ignore_result=True,
    soft_time_limit=DAY_PLANS_SOFT_LIMIT,
    time_limit=DAY_PLANS_SOFT_LIMIT + 30,
)
def refresh_day_plans(site_id: int | None = None) -> int:
    """Run by beat without a site: queue one run per level site (a busy site does not hold up
    the others), and per other site still holding plans (its run removes them). With a site (queued so, or after a new template): solve again its coming days
    whose bookings left the template's rhythm. Returns the days solved, or the runs queued."""
    if site_id is None:
        # A site switched off level loading keeps its plans until a run of its own removes them:
        # they would stay listed on its day-template page and be read by its board.
        sites = list(
            Site.objects.filter(Q(placement_policy=LEVEL) | Exists(DayPlan.objects.filter(site_id=OuterRef("pk"))))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for pk in sites:
            refresh_day_plans.apply_async(args=[pk], expires=600.0)
        return len(sites)
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return 0
    try:
        return len(day_plans_refresh(site=site, now=timezone.now()).solved)
    except SoftTimeLimitExceeded:
        return 0  # each day's plan is saved as it is solved: the next run goes on from there
