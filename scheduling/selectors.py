"""Reads that span tables. The engine's snapshots are loaded here in a fixed
number of queries whatever the number of appointments."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q, QuerySet

from clinic.models import Chair, Closure, Role, Shift, Site
from patients.models import Patient
from scheduling.engine import ChairState, InductionRule, NurseState, Preferences, SiteSnapshot, Span
from scheduling.engine.planner import MaintenanceRule
from scheduling.models import BLOCKING_STATUSES, Appointment, Protocol, TreatmentPlan


def site_snapshot(
    *,
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    exclude_appointment_ids: Iterable[int] = (),
) -> SiteSnapshot:
    """The site's chairs, nurses on shift and bookings overlapping [start, end). Five queries."""
    exclude = list(exclude_appointment_ids)
    opening = {
        row.weekday: (row.opens_at, row.closes_at) for row in site.opening_hours.all()
    }  # prefetched by callers that load many sites
    closures = tuple(
        (Span(c.starts_at, c.ends_at), c.reason)
        for c in Closure.objects.filter(Q(site=site) | Q(site__isnull=True), starts_at__lt=end, ends_at__gt=start)
    )
    chairs = list(Chair.objects.filter(site=site, active=True).order_by("name", "pk"))
    shifts_by_nurse: dict[int, list[Span]] = defaultdict(list)
    for staff_id, shift_start, shift_end in Shift.objects.filter(
        site=site, staff__role=Role.NURSE, staff__active=True, starts_at__lt=end, ends_at__gt=start
    ).values_list("staff_id", "starts_at", "ends_at"):
        shifts_by_nurse[staff_id].append(Span(shift_start, shift_end))
    chair_busy: dict[int, list[Span]] = defaultdict(list)
    nurse_booked: dict[int, list[Span]] = defaultdict(list)
    booked = (
        Appointment.objects.filter(
            Q(site=site) | Q(nurse_id__in=list(shifts_by_nurse)),
            status__in=BLOCKING_STATUSES,
            starts_at__lt=end,
            ends_at__gt=start,
        )
        .exclude(pk__in=exclude)
        .values_list("chair_id", "nurse_id", "starts_at", "ends_at")
    )
    for chair_id, nurse_id, booked_start, booked_end in booked:
        span = Span(booked_start, booked_end)
        chair_busy[chair_id].append(span)
        if nurse_id is not None:
            nurse_booked[nurse_id].append(span)
    return SiteSnapshot(
        id=site.pk,
        name=site.name,
        zone=site.zone,
        opening=opening,
        closures=closures,
        chairs=tuple(
            ChairState(id=c.pk, name=c.name, routes=frozenset(c.equipment or ()), busy=tuple(chair_busy[c.pk]))
            for c in chairs
        ),
        nurses=tuple(
            NurseState(id=nurse_id, name=str(nurse_id), shifts=tuple(spans), booked=tuple(nurse_booked[nurse_id]))
            for nurse_id, spans in sorted(shifts_by_nurse.items())
        ),
        max_patients_per_nurse=site.max_patients_per_nurse,
        step_minutes=site.slot_step_minutes,
    )


def patient_busy_spans(
    *, patient: Patient, start: dt.datetime, end: dt.datetime, exclude_appointment_ids: Iterable[int] = ()
) -> list[Span]:
    return [
        Span(s, e)
        for s, e in Appointment.objects.filter(
            patient=patient, status__in=BLOCKING_STATUSES, starts_at__lt=end, ends_at__gt=start
        )
        .exclude(pk__in=list(exclude_appointment_ids))
        .values_list("starts_at", "ends_at")
    ]


def induction_rule(protocol: Protocol) -> InductionRule:
    minutes = dt.timedelta(minutes=protocol.session_minutes)
    gap = dt.timedelta(hours=protocol.min_gap_hours)
    if protocol.induction_pattern == Protocol.InductionPattern.WEEKLY:
        return InductionRule(session_length=minutes, min_gap=gap, route=protocol.route, weekly_counts=tuple(protocol.weekly_counts))
    return InductionRule(
        session_length=minutes,
        min_gap=gap,
        route=protocol.route,
        sessions=protocol.induction_sessions,
        window_days=protocol.induction_window_days,
    )


def maintenance_rule(plan: TreatmentPlan) -> MaintenanceRule:
    protocol = plan.protocol
    return MaintenanceRule(
        session_length=dt.timedelta(minutes=protocol.session_minutes),
        route=protocol.route,
        interval_days=plan.maintenance_interval_days,
        min_days=min(protocol.maintenance_min_days, plan.maintenance_interval_days),
        max_days=max(protocol.maintenance_max_days, plan.maintenance_interval_days),
    )


def plan_preferences(plan: TreatmentPlan) -> Preferences:
    weekdays = frozenset(plan.preferred_weekdays) if plan.preferred_weekdays else frozenset(range(7))
    return Preferences(weekdays=weekdays, earliest=plan.earliest_start, latest=plan.latest_start)


def plan_sessions(plan: TreatmentPlan) -> QuerySet[Appointment]:
    """The plan's sessions that occupy time, in order."""
    return plan.appointments.filter(status__in=BLOCKING_STATUSES).order_by("starts_at")


def day_board(*, site: Site, day: dt.date) -> list[Appointment]:
    """Every appointment at `site` on local `day`, with what the board shows. Two queries."""
    from scheduling.engine.wallclock import day_bounds

    start, end = day_bounds(day, site.zone)
    return list(
        Appointment.objects.filter(site=site, starts_at__lt=end, ends_at__gt=start)
        .select_related("patient", "chair", "nurse__user", "plan__protocol")
        .order_by("chair__name", "starts_at")
    )
