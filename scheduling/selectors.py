"""Reads that span tables. The engine's snapshots are loaded here in a fixed
number of queries whatever the number of appointments."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    ExpressionWrapper,
    F,
    Func,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, JSONObject

from clinic.models import MAX_SHIFT_LENGTH, Chair, Closure, OpeningHours, Role, Shift, Site
from clinic.permissions import mark_long_lived
from patients.models import Patient
from scheduling.engine import ChairState, InductionRule, NurseState, Preferences, SiteSnapshot, Span
from scheduling.engine.model import span_order
from scheduling.engine.planner import MaintenanceRule
from scheduling.models import BLOCKING_STATUSES, MAX_SESSION_LENGTH, Appointment, Protocol, TreatmentPlan


def opening_hours(site: Site) -> dict[int, tuple[dt.time, dt.time]]:
    """weekday -> (opens, closes): from `with_schedule`'s annotation, a prefetch, or one query."""
    rows = getattr(site, "opening_rows", None)
    if rows is not None:
        if isinstance(rows, str):  # SQLite hands the aggregate back as text
            rows = json.loads(rows)
        return {row["weekday"]: (dt.time.fromisoformat(row["opens"]), dt.time.fromisoformat(row["closes"])) for row in rows}
    return {row.weekday: (row.opens_at, row.closes_at) for row in site.opening_hours.all()}


def sites_with_schedule() -> QuerySet[Site]:
    """Sites with their reminder policy and opening hours in the same row, so a booking
    reads its site once."""
    return shared_sites_with_schedule().all()


_SITES_WITH_SCHEDULE: dict[str, QuerySet[Site]] = {}


def shared_sites_with_schedule() -> QuerySet[Site]:
    """`sites_with_schedule()` built once per database vendor (the aggregate differs between
    PostgreSQL and SQLite): building it is a good part of a booking's ORM work. Only for
    holders that clone it before use (a serializer field's queryset); iterating it directly
    would keep its rows for the life of the process."""
    vendor = connection.vendor
    shared = _SITES_WITH_SCHEDULE.get(vendor)
    if shared is None:
        shared = _SITES_WITH_SCHEDULE[vendor] = mark_long_lived(_build_sites_with_schedule())
    return shared


def _build_sites_with_schedule() -> QuerySet[Site]:
    hours = (
        OpeningHours.objects.filter(site=OuterRef("pk"))
        .order_by()
        .values("site")
        .annotate(rows=_json_array_agg(JSONObject(weekday="weekday", opens="opens_at", closes="closes_at")))
        .values("rows")
    )
    return Site.objects.select_related("reminder_policy").annotate(opening_rows=Subquery(hours))


def _json_array_agg(expression):
    if connection.vendor == "postgresql":
        from django.contrib.postgres.aggregates import JSONBAgg

        return JSONBAgg(expression)
    return Func(expression, function="JSON_GROUP_ARRAY", output_field=JSONField())


# Row kinds of the snapshot query.
_CLOSURE, _SHIFT, _BOOKED = "c", "s", "b"


def site_snapshot(
    *,
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    exclude_appointment_ids: Iterable[int] = (),
    chairs: Iterable[Chair] | None = None,
    nurse_ids: Iterable[int] | None = None,
) -> SiteSnapshot:
    """The site's chairs, nurses on shift and bookings overlapping [start, end)."""
    snapshot, _ = booking_snapshot(
        site=site, start=start, end=end, exclude_appointment_ids=exclude_appointment_ids, chairs=chairs,
        nurse_ids=nurse_ids,
    )
    return snapshot


def booking_snapshot(
    *,
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    patient: Patient | None = None,
    exclude_appointment_ids: Iterable[int] = (),
    chairs: Iterable[Chair] | None = None,
    nurse_ids: Iterable[int] | None = None,
) -> tuple[SiteSnapshot, list[Span]]:
    """The site snapshot and the patient's own busy spans in [start, end).

    Closures, shifts and appointments come back in one UNION ALL query; chairs in a
    second unless the caller passes the chairs it already holds (only those are then in
    the snapshot, as when re-checking given slots); opening hours come with the site
    (`sites_with_schedule`) or a prefetch. `nurse_ids` narrows the nurses to those named.

    Every read is bounded on both sides of `starts_at` (sessions and shifts have a
    maximum length the database enforces), so the cost follows the window, not the
    size of the history."""
    exclude = list(exclude_appointment_ids)
    opening = opening_hours(site)
    if chairs is None:
        chair_rows = list(Chair.objects.filter(site=site, active=True).order_by("name", "pk"))
    else:
        chair_rows = sorted((c for c in chairs if c.site_id == site.pk and c.active), key=lambda c: (c.name, c.pk))
    no_id = Cast(Value(None), BigIntegerField())  # typed, or PostgreSQL takes an untyped NULL for text
    closures = Closure.objects.filter(Q(site=site) | Q(site__isnull=True), starts_at__lt=end, ends_at__gt=start)
    shifts = Shift.objects.filter(
        site=site, staff__role=Role.NURSE, staff__active=True,
        starts_at__gt=start - MAX_SHIFT_LENGTH, starts_at__lt=end, ends_at__gt=start,
    )
    if nurse_ids is not None:
        shifts = shifts.filter(staff_id__in=list(nurse_ids))
    nurse_filter = (
        Q(nurse_id__in=list(nurse_ids))
        if nurse_ids is not None
        else Q(nurse_id__in=shifts.values("staff_id"))
    )
    booked_filter = (Q(site=site) if chairs is None else Q(chair_id__in=[c.pk for c in chair_rows])) | nurse_filter
    if patient is not None:
        booked_filter |= Q(patient=patient)
    booked = Appointment.objects.filter(
        booked_filter,
        status__in=BLOCKING_STATUSES,
        starts_at__gt=start - MAX_SESSION_LENGTH,
        starts_at__lt=end,
        ends_at__gt=start,
    ).exclude(pk__in=exclude)
    is_patient = (
        ExpressionWrapper(Q(patient=patient), output_field=BooleanField()) if patient is not None else Value(False)
    )
    columns = ("row_kind", "first_id", "second_id", "is_patient", "row_start", "row_end", "note")

    def shaped(queryset, kind, first, second, mine, note):
        # Every column an annotation, in one order, so the three SELECTs line up for UNION ALL.
        return (
            queryset.order_by()
            .annotate(
                row_kind=Value(kind), first_id=first, second_id=second, is_patient=mine,
                row_start=F("starts_at"), row_end=F("ends_at"), note=note,
            )
            .values_list(*columns)
        )

    # The appointments' SELECT comes first: Django converts every row of a UNION with the first
    # SELECT's column types, and its columns (plain columns, a text kind, a boolean) need no
    # conversion in Python, where the closures' typed NULLs and an integer kind would cost a
    # call per column per row (a course proposal reads ~1,500 rows).
    rows = shaped(booked, _BOOKED, F("chair_id"), F("nurse_id"), is_patient, Value("")).union(
        shaped(closures, _CLOSURE, no_id, no_id, Value(False), F("reason")),
        shaped(shifts, _SHIFT, F("staff_id"), no_id, Value(False), Value("")),
        all=True,
    )
    closure_spans: list[tuple[Span, str]] = []
    shifts_by_nurse: dict[int, list[Span]] = defaultdict(list)
    chair_busy: dict[int, list[Span]] = defaultdict(list)
    nurse_booked: dict[int, list[Span]] = defaultdict(list)
    patient_busy: list[Span] = []
    booked_rows = []
    for kind, first, second, mine, row_start, row_end, note in rows:
        span = Span(row_start, row_end)
        if kind == _CLOSURE:
            closure_spans.append((span, note))
        elif kind == _SHIFT:
            shifts_by_nurse[first].append(span)
        else:
            booked_rows.append((first, second, span))
            if mine:
                patient_busy.append(span)
    chair_ids = {c.pk for c in chair_rows}
    for chair_id, nurse_id, span in booked_rows:
        # Rows come in for their chair, their nurse or the patient; each list keeps its own.
        if chair_id in chair_ids:
            chair_busy[chair_id].append(span)
        if nurse_id is not None and nurse_id in shifts_by_nurse:
            nurse_booked[nurse_id].append(span)
    snapshot = SiteSnapshot(
        id=site.pk,
        name=site.name,
        zone=site.zone,
        opening=opening,
        closures=tuple(sorted(closure_spans)),
        chairs=tuple(
            ChairState(id=c.pk, name=c.name, routes=frozenset(c.equipment or ()), busy=tuple(sorted(chair_busy[c.pk], key=span_order)))
            for c in chair_rows
        ),
        nurses=tuple(
            NurseState(
                id=nurse_id, name=str(nurse_id), shifts=tuple(sorted(spans, key=span_order)),
                booked=tuple(sorted(nurse_booked[nurse_id], key=span_order)),
            )
            for nurse_id, spans in sorted(shifts_by_nurse.items())
        ),
        max_patients_per_nurse=site.max_patients_per_nurse,
        step_minutes=site.slot_step_minutes,
    )
    return snapshot, sorted(patient_busy, key=span_order)


def patient_busy_spans(
    *, patient: Patient, start: dt.datetime, end: dt.datetime, exclude_appointment_ids: Iterable[int] = ()
) -> list[Span]:
    return [
        Span(s, e)
        for s, e in Appointment.objects.filter(
            patient=patient, status__in=BLOCKING_STATUSES,
            starts_at__gt=start - MAX_SESSION_LENGTH, starts_at__lt=end, ends_at__gt=start,
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
        Appointment.objects.filter(site=site, starts_at__gt=start - MAX_SESSION_LENGTH, starts_at__lt=end, ends_at__gt=start)
        .select_related("patient", "chair", "nurse__user", "plan__protocol")
        .order_by("chair__name", "starts_at")
    )
