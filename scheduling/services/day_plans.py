"""Day plans: the site's day template solved again for each coming day whose bookings left its
rhythm (scheduling.engine.day_template.solve_day_plan for a template in lanes of chairs per
nurse, solve_day_plan_by_nurse for one whose starts name their nurse's shift).

A template suits an empty day. Sessions booked off its starts (before the template existed, by
hand, or by a nurse other than the chair's) each block two of its places where they could block
one, and the day holds fewer than it could. `day_plans_refresh` finds those days in the coming
`PLAN_HORIZON_DAYS` and solves each around what it holds; placement and the board then prefer
that day's plan to the template. Beat queues one run per level site every 10 minutes
(scheduling.tasks.refresh_day_plans), and the template's task one more after a new template.
A day is solved again only when it changed otherwise than by sessions booked at its plan's
starts (`PlanDay.digest`), so a run with nothing new reads a few tables and solves nothing."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from clinic.models import Site
from scheduling.engine.day_template import DayPlanOutcome, solve_day_plan, solve_day_plan_by_nurse
from scheduling.engine.placement import LEVEL
from scheduling.engine.wallclock import day_bounds, local_day
from scheduling.models import DayPlan, DayTemplate
from scheduling.selectors import (
    PlanBooking,
    PlanDay,
    day_plan_inputs,
    day_plan_protocols,
    day_plan_site_part,
    latest_day_template,
    site_snapshot,
    template_start_shifts,
)

logger = logging.getLogger(__name__)

# How far ahead days are re-planned: a course's window and the search before it (the days
# bookings are being made for).
PLAN_HORIZON_DAYS = 42
# Solves per run at most (the nearest days first); the next run takes the rest. One day's solve
# (all its nurses) is bounded by deterministic work, the same on any machine
# (scheduling.engine.day_template: LANE_WORK, IMPROVE_WORK), about 1-2 s on the shared bench box;
# its wall-clock limit, settings.DAY_PLAN_TIME_LIMIT_SECONDS, only stops a machine far too slow
# for that work (plans would then differ).
PLAN_SOLVES_PER_RUN = 40


@dataclass
class DayPlansReport:
    solved: list[dt.date] = field(default_factory=list)
    removed: int = 0  # plans of past days, of an older template, or of days back on the template
    unchanged: int = 0
    left: int = 0  # days that need solving beyond this run's share


def _entries(
    starts: dict[int, list[tuple[dt.time, int]]],
    nurses: dict[tuple[int, dt.time], int],
    minutes: dict[int, int],
    shortest: int,
) -> list[dict[str, object]]:
    """The plan's starts as kept: chair, local start, the chair minutes of the session planned
    there and, where the plan gives it one, the nurse."""
    return [
        {"chair_id": chair_id, "start": start.isoformat("minutes"), "minutes": minutes.get(protocol_id, shortest)}
        | ({"nurse_id": nurses[chair_id, start]} if (chair_id, start) in nurses else {})
        for chair_id in sorted(starts)
        for start, protocol_id in starts[chair_id]
    ]


def _lanes(template: DayTemplate) -> dict[int, int]:
    """chair id -> its nurse's lane in `template`. A template solved for one nurse has no lanes
    (its one model is that nurse's): every chair is hers. A template of nurses on different
    shifts (or more nurses than chairs) has none either: each of its starts names its nurse's
    shift instead (`template_start_shifts`), and its days are solved again per nurse
    (scheduling.engine.day_template.solve_day_plan_by_nurse)."""
    lanes = {int(e["chair_id"]): int(e["lane"]) for e in template.starts if e.get("lane") is not None}
    if not lanes and len((template.inputs or {}).get("nurse_shifts") or ()) == 1:
        lanes = {int(e["chair_id"]): 0 for e in template.starts}
    return lanes


def _starts(entries: list[dict[str, object]]) -> dict[int, set[dt.time]]:
    starts: dict[int, set[dt.time]] = defaultdict(set)
    for entry in entries:
        starts[int(str(entry["chair_id"]))].add(dt.time.fromisoformat(str(entry["start"])))
    return starts


def day_plans_refresh(
    *,
    site: Site,
    now: dt.datetime,
    horizon_days: int = PLAN_HORIZON_DAYS,
    solves: int = PLAN_SOLVES_PER_RUN,
    time_limit_seconds: float | None = None,
) -> DayPlansReport:
    """Bring `site`'s day plans up to date for today and the next `horizon_days` (site-local days).
    Each day's solve stops at `time_limit_seconds`, by default settings.DAY_PLAN_TIME_LIMIT_SECONDS
    (read now: the Celery task's own limit is derived from it).

    A day needs a plan when one of its sessions is off the template's rhythm: not at a template
    start of its chair, not with the nurse the template's lane gives that chair, or longer than
    the template's session there. A plan is solved again when the day changed otherwise than by
    sessions booked at its starts with the nurse it names (`PlanDay.digest`: one of the sessions
    it was solved around moved or went, a nurse's shift or a closure changed, or the site's
    chairs, hours, ratio or setups), or a new session is off its starts; a day back on the
    template's rhythm loses its plan. Only level sites with a per-nurse template have plans: for
    any other site every plan is removed. A plan is kept only while its template is the latest
    (a run that began before a new template writes nothing more)."""
    if time_limit_seconds is None:
        time_limit_seconds = settings.DAY_PLAN_TIME_LIMIT_SECONDS
    report = DayPlansReport()
    zone = site.zone
    today = local_day(now, zone)
    report.removed += DayPlan.objects.filter(site=site, day__lt=today).delete()[0]
    template = latest_day_template(site_id=site.pk) if site.placement_policy == LEVEL else None
    lanes = _lanes(template) if template is not None else {}
    shifts = template_start_shifts(template.starts) if template is not None and not lanes else {}
    # A template solved for one nurse names no lanes: any nurse on shift may take its starts, as
    # placement gives them (the least used), so a session's nurse does not put it off the rhythm.
    one_nurse = template is not None and bool(lanes) and not any(e.get("lane") is not None for e in template.starts)
    if template is None or not (lanes or shifts):
        report.removed += DayPlan.objects.filter(site=site).delete()[0]
        return report
    report.removed += DayPlan.objects.filter(site=site).exclude(template=template).delete()[0]
    last = today + dt.timedelta(days=horizon_days)
    days = day_plan_inputs(site=site, first=today, last=last)
    site_part = day_plan_site_part(site, template)
    plans = {plan.day: plan for plan in DayPlan.objects.filter(site=site, day__gte=today)}
    protocols = day_plan_protocols(template)
    minutes = {p.id: p.chair_minutes for p in protocols}
    shortest = min(minutes.values(), default=0)
    template_entries = [
        {"chair_id": e["chair_id"], "start": e["start"], "minutes": minutes.get(e.get("protocol_id") or 0, shortest)}
        for e in template.starts
    ]

    def off_rhythm(entries: list[dict[str, Any]], day: dt.date, held: PlanDay, rows: list[PlanBooking]) -> bool:
        """Whether a session is off the starts of `entries`, longer than the session planned
        there, or not with the nurse they give it (the plan's, else its chair's lane nurse, else
        the nurse on the start's shift that day)."""
        planned = {(int(e["chair_id"]), dt.time.fromisoformat(e["start"])): e for e in entries}
        on_hours = held.nurses_by_shift_hours(zone, day) if shifts else {}
        for row in rows:
            entry = planned.get((row.chair_id, row.clock))
            if entry is None or row.minutes > int(entry.get("minutes") or row.minutes):
                return True
            nurse = entry.get("nurse_id")
            lane = lanes.get(row.chair_id)
            shift = shifts.get((row.chair_id, row.clock))
            if nurse is None and lane is not None and row.on_shift:
                if one_nurse and row.nurse_id in row.on_shift:
                    continue
                nurse = row.on_shift[lane % len(row.on_shift)]
            elif nurse is None and shift is not None:
                alike = on_hours.get(shift[:2], [])
                nurse = alike[shift[2] % len(alike)] if alike else None
            if row.nurse_id != nurse:
                return True
        return False

    needing: list[dt.date] = []
    for day in sorted({*(d for d, held in days.items() if held.bookings), *plans}):
        held = days.get(day, PlanDay())
        plan = plans.get(day)
        if plan is not None:
            booked = set(plan.booked)
            kept = [row for row in held.bookings if row.id in booked]
            added = [row for row in held.bookings if row.id not in booked]
            if held.digest(site_part, kept) == plan.digest and not off_rhythm(plan.starts, day, held, added):
                report.unchanged += 1
                continue
        if not off_rhythm(template_entries, day, held, held.bookings):
            if plan is not None:
                plan.delete()
                report.removed += 1
            continue
        needing.append(day)
    report.left = max(0, len(needing) - solves)
    template_starts = _starts(template.starts)
    for day in needing[:solves]:
        held = days.get(day, PlanDay())
        midnight, next_midnight = day_bounds(day, zone)
        snapshot = site_snapshot(site=site, start=midnight, end=next_midnight)
        outcome: DayPlanOutcome = (
            solve_day_plan(
                snapshot=snapshot,
                day=day,
                lanes=lanes,
                protocols=protocols,
                ceiling=template.sessions_per_day,
                time_limit_seconds=time_limit_seconds,
            )
            if lanes
            else solve_day_plan_by_nurse(
                snapshot=snapshot, day=day, protocols=protocols, time_limit_seconds=time_limit_seconds
            )
        )
        # Chairs whose nurse's solve found no answer keep the template's starts.
        starts = dict(outcome.starts)
        for chair_id in outcome.kept:
            starts[chair_id] = [(clock, 0) for clock in sorted(template_starts.get(chair_id, ()))]
        with transaction.atomic():
            # A new template while this run solved: its own run plans the days; write nothing more.
            if latest_day_template(site_id=site.pk) != template:
                break
            DayPlan.objects.update_or_create(
                site=site,
                day=day,
                defaults={
                    "template": template,
                    "starts": _entries(starts, outcome.nurses, minutes, shortest),
                    "booked": sorted(row.id for row in held.bookings),
                    "digest": held.digest(site_part, held.bookings),
                    "revision": uuid.uuid4(),
                    "solver_status": outcome.status,
                    "solve_seconds": round(outcome.solve_seconds, 3),
                    "computed_at": now,
                },
            )
        report.solved.append(day)
    if report.left:
        logger.info("Day plans for site %s: %s days left for the next run", site.pk, report.left)
    return report
