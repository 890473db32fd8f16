"""Day plans: the site's day template solved again for each coming day whose bookings left its
rhythm (scheduling.engine.day_template.solve_day_plan).

A template suits an empty day. Sessions booked off its starts (before the template existed, by
hand, or by a nurse other than the chair's) each block two of its places where they could block
one, and the day holds fewer than it could. `day_plans_refresh` finds those days in the coming
`PLAN_HORIZON_DAYS` and solves each around what it holds; placement and the board then prefer
that day's plan to the template. Beat runs it every few minutes for every level site
(scheduling.tasks.refresh_day_plans), and the template's task once more after a new template.
A day is solved again only when its bookings changed otherwise than at its plan's starts, so a
run with nothing new reads two tables and solves nothing."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction

from clinic.models import Site
from scheduling.engine.day_template import DayPlanOutcome, solve_day_plan
from scheduling.engine.placement import LEVEL
from scheduling.engine.wallclock import day_bounds, local_day
from scheduling.models import DayPlan, DayTemplate
from scheduling.selectors import (
    PlanBooking,
    day_plan_bookings,
    day_plan_protocols,
    latest_day_template,
    site_snapshot,
)

logger = logging.getLogger(__name__)

# How far ahead days are re-planned: a course's window and the search before it (the days
# bookings are being made for).
PLAN_HORIZON_DAYS = 42
# One day's solve (all its nurses); a 12-chair day around a handful of bookings takes well under a second.
PLAN_TIME_LIMIT_SECONDS = 3.0
# Solves per run at most (the nearest days first); the next run takes the rest.
PLAN_SOLVES_PER_RUN = 40


@dataclass
class DayPlansReport:
    solved: list[dt.date] = field(default_factory=list)
    removed: int = 0  # plans of past days, of an older template, or of days back on the template
    unchanged: int = 0
    left: int = 0  # days that need solving beyond this run's share


def _entries(
    starts: dict[int, list[tuple[dt.time, int]]], nurses: dict[tuple[int, dt.time], int]
) -> list[dict[str, object]]:
    """The plan's starts as kept: chair, local start and, where the plan gives it one, the nurse."""
    return [
        {"chair_id": chair_id, "start": start.isoformat("minutes")}
        | ({"nurse_id": nurses[chair_id, start]} if (chair_id, start) in nurses else {})
        for chair_id in sorted(starts)
        for start, _ in starts[chair_id]
    ]


def _lanes(template: DayTemplate) -> dict[int, int]:
    """chair id -> its nurse's lane in `template`. A template solved for one nurse has no lanes
    (its one model is that nurse's): every chair is hers. A pooled template of several nurses on
    different shifts has none either, and no day plans: solved pooled, a plan could offer starts
    no assignment of nurses holds (scheduling.engine.day_template.solve_day_template)."""
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
    time_limit_seconds: float = PLAN_TIME_LIMIT_SECONDS,
) -> DayPlansReport:
    """Bring `site`'s day plans up to date for today and the next `horizon_days` (site-local days).

    A day needs a plan when one of its sessions is off the template's rhythm: not at a template
    start of its chair, or not with the nurse the template's lane gives that chair. A plan is
    solved again when one of the sessions it was solved around is gone, or a new one is off its
    starts; a day back on the template's rhythm loses its plan. Only level sites with a
    per-nurse template have plans: for any other site every plan is removed."""
    report = DayPlansReport()
    zone = site.zone
    today = local_day(now, zone)
    report.removed += DayPlan.objects.filter(site=site, day__lt=today).delete()[0]
    template = latest_day_template(site_id=site.pk) if site.placement_policy == LEVEL else None
    lanes = _lanes(template) if template is not None else {}
    if template is None or not lanes:
        report.removed += DayPlan.objects.filter(site=site).delete()[0]
        return report
    report.removed += DayPlan.objects.filter(site=site).exclude(template=template).delete()[0]
    last = today + dt.timedelta(days=horizon_days)
    bookings = day_plan_bookings(site=site, first=today, last=last)
    plans = {plan.day: plan for plan in DayPlan.objects.filter(site=site, day__gte=today)}
    template_starts = _starts(template.starts)
    template_entries = [{"chair_id": e["chair_id"], "start": e["start"]} for e in template.starts]

    def off_rhythm(entries: list[dict[str, object]], rows: list[PlanBooking]) -> bool:
        """Whether a session is off the starts of `entries`, or not with the nurse they give it (the
        plan's, else the nurse of its chair's lane)."""
        starts = _starts(entries)
        planned = {
            (int(str(e["chair_id"])), dt.time.fromisoformat(str(e["start"]))): int(str(e["nurse_id"]))
            for e in entries
            if e.get("nurse_id") is not None
        }
        for row in rows:
            lane = lanes.get(row.chair_id)
            nurse = planned.get((row.chair_id, row.clock))
            if nurse is None and lane is not None and row.on_shift:
                nurse = row.on_shift[lane % len(row.on_shift)]
            if row.clock not in starts.get(row.chair_id, ()) or row.nurse_id != nurse:
                return True
        return False

    needing: list[dt.date] = []
    for day in sorted(set(bookings) | set(plans)):
        rows = bookings.get(day, [])
        plan = plans.get(day)
        if plan is not None:
            booked = set(plan.booked)
            added = [row for row in rows if row.id not in booked]
            if booked <= {row.id for row in rows} and not off_rhythm(plan.starts, added):
                report.unchanged += 1
                continue
        if not off_rhythm(template_entries, rows):
            if plan is not None:
                plan.delete()
                report.removed += 1
            continue
        needing.append(day)
    report.left = max(0, len(needing) - solves)
    protocols = day_plan_protocols(template)
    for day in needing[:solves]:
        midnight, next_midnight = day_bounds(day, zone)
        snapshot = site_snapshot(site=site, start=midnight, end=next_midnight)
        outcome: DayPlanOutcome = solve_day_plan(
            snapshot=snapshot, day=day, lanes=lanes, protocols=protocols, time_limit_seconds=time_limit_seconds
        )
        # Chairs whose nurse's solve found no answer keep the template's starts.
        starts = dict(outcome.starts)
        for chair_id in outcome.kept:
            starts[chair_id] = [(clock, 0) for clock in sorted(template_starts.get(chair_id, ()))]
        with transaction.atomic():
            DayPlan.objects.update_or_create(
                site=site,
                day=day,
                defaults={
                    "template": template,
                    "starts": _entries(starts, outcome.nurses),
                    "booked": sorted(row.id for row in bookings.get(day, [])),
                    "solver_status": outcome.status,
                    "solve_seconds": round(outcome.solve_seconds, 3),
                    "computed_at": now,
                },
            )
        report.solved.append(day)
    if report.left:
        logger.info("Day plans for site %s: %s days left for the next run", site.pk, report.left)
    return report
