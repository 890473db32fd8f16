"""Reads that span tables. The engine's snapshots are loaded here in a fixed
number of queries whatever the number of appointments."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import math
import uuid
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    Expression,
    Func,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import JSONObject

from clinic.models import MAX_SHIFT_LENGTH, Chair, Closure, OpeningHours, ReminderPolicy, Role, Shift, Site, StaffMember
from clinic.permissions import mark_long_lived, site_ids
from clinic.rows import ModelColumns, column_reader, in_list, prepared_execute
from patients.models import Patient
from scheduling.engine import Availability, ChairState, InductionRule, NurseState, Preferences, SiteSnapshot, Slot, Span
from scheduling.engine.availability import booked_session_problem
from scheduling.engine.day_template import ChairSpec as TemplateChair
from scheduling.engine.day_template import NurseShift
from scheduling.engine.day_template import ProtocolSpec as TemplateProtocol
from scheduling.engine.model import DEFAULT_NURSE_WORK, NurseWork, span_order
from scheduling.engine.placement import EARLIEST, Habits, Placement, template_nurse
from scheduling.engine.planner import MaintenanceRule, maintenance_target
from scheduling.engine.wallclock import day_bounds, local_day, opening_instant, shift_hours
from scheduling.models import (
    BLOCKING_STATUSES,
    INFUSION_STATUSES,
    MAX_SESSION_LENGTH,
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    DayPlan,
    DayTemplate,
    DayTemplateState,
    Phase,
    Protocol,
    TreatmentPlan,
    lapsed_holds,
)


def opening_hours(site: Site) -> dict[int, tuple[dt.time, dt.time]]:
    """weekday -> (opens, closes): from `with_schedule`'s annotation, a prefetch, or one query."""
    rows = getattr(site, "opening_rows", None)
    if rows is not None:
        if isinstance(rows, str):  # SQLite hands the aggregate back as text
            rows = json.loads(rows)
        return {
            row["weekday"]: (dt.time.fromisoformat(row["opens"]), dt.time.fromisoformat(row["closes"])) for row in rows
        }
    if "opening_hours" in getattr(site, "_prefetched_objects_cache", {}):
        return {row.weekday: (row.opens_at, row.closes_at) for row in site.opening_hours.all()}
    sql, opens, closes = _opening_read(connection.vendor)
    with connection.cursor() as cursor:
        prepared_execute(cursor, sql, [site.pk])
        found = cursor.fetchall()
    if opens is None or closes is None:
        return {weekday: (opens_at, closes_at) for weekday, opens_at, closes_at in found}
    return {weekday: (opens(opens_at), closes(closes_at)) for weekday, opens_at, closes_at in found}


@functools.cache
def _opening_read(vendor: str) -> tuple[str, Callable[[Any], Any] | None, Callable[[Any], Any] | None]:
    """A site's opening hours by hand (a proposal's and a free-slot search's read, the ORM's
    compiling cost more than the answer), with what turns the times into the ORM's (SQLite
    hands back text); built once per database vendor."""
    sql = f"SELECT weekday, opens_at, closes_at FROM {OpeningHours._meta.db_table} WHERE site_id = %s"  # noqa: S608
    return (
        sql,
        column_reader(OpeningHours._meta.get_field("opens_at")),
        column_reader(OpeningHours._meta.get_field("closes_at")),
    )


@functools.cache
def _chairs_read(vendor: str) -> tuple[str, ModelColumns[Chair]]:
    """A site's active chairs by name, by hand (as `_opening_read`); built once per vendor."""
    columns = ModelColumns(Chair, "c")
    sql = (
        f"SELECT {columns.select} FROM {Chair._meta.db_table} c"  # noqa: S608 - the model's table
        " WHERE c.site_id = %s AND c.active ORDER BY c.name, c.id"
    )
    return sql, columns


def active_chairs(site: Site) -> list[Chair]:
    """The site's active chairs in name order (then id), as the snapshot lists them."""
    sql, columns = _chairs_read(connection.vendor)
    with connection.cursor() as cursor:
        prepared_execute(cursor, sql, [site.pk])
        rows = cursor.fetchall()
    return [chair for chair in (columns.load(row) for row in rows) if chair is not None]


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


def _json_array_agg(expression: Expression) -> Func:
    if connection.vendor == "postgresql":
        from django.contrib.postgres.aggregates import JSONBAgg

        return JSONBAgg(expression)
    return Func(expression, function="JSON_GROUP_ARRAY", output_field=JSONField())


# Row kinds of the snapshot query.
_CLOSURE, _SHIFT, _BOOKED, _LAPSED = "c", "s", "b", "l"
# Before any hold: what `now=None` compares with, so no hold has lapsed and the SQL keeps one shape.
_NO_LAPSE = dt.datetime(1, 1, 2, tzinfo=dt.UTC)


def site_snapshot(
    *,
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    exclude_appointment_ids: Iterable[int] = (),
    chairs: Iterable[Chair] | None = None,
    nurse_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
    closure_reasons: bool = True,
) -> SiteSnapshot:
    """The site's chairs, nurses on shift and bookings overlapping [start, end) (holds lapsed by
    `now` are free; closures without their reasons unless `closure_reasons`, see `booking_snapshot`)."""
    snapshot, _ = booking_snapshot(
        site=site,
        start=start,
        end=end,
        exclude_appointment_ids=exclude_appointment_ids,
        chairs=chairs,
        nurse_ids=nurse_ids,
        now=now,
        closure_reasons=closure_reasons,
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
    now: dt.datetime | None = None,
    closure_reasons: bool = True,
) -> tuple[SiteSnapshot, list[Span]]:
    """The site snapshot and the patient's own busy spans in [start, end).

    A closure's reason is free text the clinic's administrators type, for staff: without
    `closure_reasons` (what a patient is told) the closures come without it (an empty reason, which
    the engine words as "the site is closed", "the chair is out of use (Chair 1)"), so the engine's
    words never carry it.

    A hold that lapsed by `now` is free time, though the sweep may not have cancelled it yet
    (None: every hold counts); the snapshot names those holds (`lapsed_holds`), for a booking
    to release them before it takes their time (the database's constraints still count them).

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
        chair_rows = active_chairs(site)
    else:
        chair_rows = sorted((c for c in chairs if c.site_id == site.pk and c.active), key=lambda c: (c.name, c.pk))
    rows = _snapshot_rows(
        site=site,
        start=start,
        end=end,
        patient=patient,
        exclude=exclude,
        chair_ids=None if chairs is None else [c.pk for c in chair_rows],
        nurse_ids=None if nurse_ids is None else list(nurse_ids),
        now=now,
        closure_reasons=closure_reasons,
    )
    closure_spans: list[tuple[Span, str]] = []
    chair_closed: dict[int, list[tuple[Span, str]]] = defaultdict(list)
    shifts_by_nurse: dict[int, list[Span]] = defaultdict(list)
    chair_busy: dict[int, list[Span]] = defaultdict(list)
    nurse_booked: dict[int, list[Span]] = defaultdict(list)
    nurse_hands: dict[int, list[Span]] = defaultdict(list)
    patient_busy: list[Span] = []
    booked_rows = []
    lapsed: list[int] = []
    for kind, first, second, mine, row_start, row_end, note in rows:
        span = Span(row_start, row_end)
        if kind == _LAPSED:
            lapsed.append(int(note))
        elif kind == _CLOSURE:
            # A closure naming a chair closes that chair alone (out of use for a while).
            if first is None:
                closure_spans.append((span, note))
            else:
                chair_closed[first].append((span, note))
        elif kind == _SHIFT:
            shifts_by_nurse[first].append(span)
        else:
            booked_rows.append((first, second, span, note))
            if mine:
                patient_busy.append(span)
    chair_ids = {c.pk for c in chair_rows}
    for chair_id, nurse_id, span, work in booked_rows:
        # Rows come in for their chair, their nurse or the patient; each list keeps its own.
        if chair_id in chair_ids:
            chair_busy[chair_id].append(span)
        if nurse_id is not None and nurse_id in shifts_by_nurse:
            nurse_booked[nurse_id].append(span)
            begins = span.start
            nurse_hands[nurse_id].extend(
                Span(begins + first, begins + last) for first, last in _hands_offsets(work, span.end - begins)
            )
    snapshot = SiteSnapshot(
        id=site.pk,
        name=site.name,
        zone=site.zone,
        opening=opening,
        closures=tuple(sorted(closure_spans)),
        chairs=tuple(
            ChairState(
                id=c.pk,
                name=c.name,
                routes=frozenset(c.equipment or ()),
                busy=tuple(sorted(chair_busy[c.pk], key=span_order)),
                out_of_use=tuple(sorted(chair_closed.get(c.pk, ()))),
            )
            for c in chair_rows
        ),
        nurses=tuple(
            NurseState(
                id=nurse_id,
                name=str(nurse_id),
                shifts=tuple(sorted(spans, key=span_order)),
                booked=tuple(sorted(nurse_booked[nurse_id], key=span_order)),
                hands_on=tuple(sorted(nurse_hands[nurse_id], key=span_order)),
            )
            for nurse_id, spans in sorted(shifts_by_nurse.items())
        ),
        max_patients_per_nurse=site.max_patients_per_nurse,
        step_minutes=site.slot_step_minutes,
        setups_per_nurse=site.setups_per_nurse,
        lapsed_holds=tuple(sorted(lapsed)),
    )
    return snapshot, sorted(patient_busy, key=span_order)


def _snapshot_rows(
    *,
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    patient: Patient | None,
    exclude: list[int],
    chair_ids: list[int] | None,
    nurse_ids: list[int] | None,
    now: dt.datetime | None,
    closure_reasons: bool = True,
) -> list[tuple]:
    """Booked sessions, closures (a chair's with its id first) and nurse shifts touching [start,
    end), as (kind, first id, second id, is the patient's, start, end, note) rows of one UNION ALL. A hold lapsed by `now`
    comes as a row of its own kind with its id as the note.

    Written as SQL rather than built with the ORM: this read is on every booking, proposal
    and free-slot search, and composing its three filtered querysets cost those requests
    more CPU than the database spends answering it. Every read is bounded on both sides of
    `starts_at` (MAX_SESSION_LENGTH, MAX_SHIFT_LENGTH), so the `starts_at` indexes are
    walked over the window only."""
    adapt = connection.ops.adapt_datetimefield_value
    table = {
        model: model._meta.db_table for model in (Appointment, Closure, Shift, StaffMember, TreatmentPlan, Protocol)
    }
    blocking = list(BLOCKING_STATUSES)
    # A shift counts only while its nurse works at the site: one taken off it keeps the shifts
    # typed in there, and is neither booked there nor counted as cover for what she had.
    works_at = StaffMember.sites.through
    works_at_rows = (
        f"SELECT 1 FROM {works_at._meta.db_table} w"  # noqa: S608 - a model table and its columns
        f" WHERE w.{works_at._meta.get_field('staffmember').column} = st.id"
        f" AND w.{works_at._meta.get_field('site').column} = sh.site_id"
    )
    shift_where = (
        "sh.site_id = %s AND st.role = %s AND st.active AND sh.starts_at > %s AND sh.starts_at < %s AND sh.ends_at > %s"
        f" AND (st.all_sites OR EXISTS ({works_at_rows}))"
    )
    shift_params: list = [site.pk, Role.NURSE.value, adapt(start - MAX_SHIFT_LENGTH), adapt(end), adapt(start)]
    if nurse_ids is not None:
        shift_where += f" AND sh.staff_id IN ({in_list(nurse_ids)})"
        shift_params += nurse_ids
    shifts_from = f"{table[Shift]} sh JOIN {table[StaffMember]} st ON st.id = sh.staff_id"

    # Whose sessions count: the site's (or, re-checking given slots, those chairs'), the nurses'
    # on shift (or those named), and the patient's own anywhere.
    if chair_ids is None:
        who, who_params = ["a.site_id = %s"], [site.pk]
    else:
        who, who_params = [f"a.chair_id IN ({in_list(chair_ids)})"], list(chair_ids)
    if nurse_ids is None:
        who.append(f"a.nurse_id IN (SELECT sh.staff_id FROM {shifts_from} WHERE {shift_where})")  # noqa: S608
        who_params += shift_params
    else:
        who.append(f"a.nurse_id IN ({in_list(nurse_ids)})")
        who_params += nurse_ids
    if patient is not None:
        who.append("a.patient_id = %s")
        who_params.append(patient.pk)
        is_patient, is_patient_params = "a.patient_id = %s", [patient.pk]
    else:
        is_patient, is_patient_params = "1 = 0", []
    booked_where = (
        f"({' OR '.join(who)}) AND a.status IN ({in_list(blocking)})"
        " AND a.starts_at > %s AND a.starts_at < %s AND a.ends_at > %s"
    )
    booked_params = [*who_params, *blocking, adapt(start - MAX_SESSION_LENGTH), adapt(end), adapt(start)]
    if exclude:
        booked_where += f" AND a.id NOT IN ({in_list(exclude)})"
        booked_params += exclude
    lapsed = f"a.status = '{AppointmentStatus.HELD.value}' AND a.hold_expires_at <= %s"
    lapsed_at = adapt(now or _NO_LAPSE)
    closure_note = "c.reason" if closure_reasons else "''"
    sql = (
        # A session's nurse work (its protocol's) travels in the note column as text.
        f"SELECT CASE WHEN {lapsed} THEN '{_LAPSED}' ELSE '{_BOOKED}' END,"  # noqa: S608 - model tables
        f" a.chair_id, a.nurse_id, {is_patient}, a.starts_at, a.ends_at,"
        f" CASE WHEN {lapsed} THEN CAST(a.id AS TEXT) ELSE"
        " COALESCE(CAST(pr.nurse_setup_minutes AS TEXT) || ' ' || CAST(pr.nurse_check_minutes AS TEXT) || ' '"
        " || CAST(pr.nurse_discharge_minutes AS TEXT) || ' ' || CAST(pr.nurse_check_offsets_minutes AS TEXT), '') END"
        f" FROM {table[Appointment]} a LEFT JOIN {table[TreatmentPlan]} tp ON tp.id = a.plan_id"
        f" LEFT JOIN {table[Protocol]} pr ON pr.id = tp.protocol_id WHERE {booked_where}"
        # A chair's closure (out of use) comes with the site's, its chair in the first id column; its
        # reason only when asked for (never read for a patient).
        f" UNION ALL SELECT '{_CLOSURE}', c.chair_id, NULL, 1 = 0, c.starts_at, c.ends_at, {closure_note}"
        f" FROM {table[Closure]} c"
        " WHERE (c.site_id = %s OR c.site_id IS NULL) AND c.starts_at < %s AND c.ends_at > %s"
        f" UNION ALL SELECT '{_SHIFT}', sh.staff_id, NULL, 1 = 0, sh.starts_at, sh.ends_at, '' FROM {shifts_from}"
        f" WHERE {shift_where}"
    )
    params = [
        lapsed_at,
        *is_patient_params,
        lapsed_at,
        *booked_params,
        site.pk,
        adapt(end),
        adapt(start),
        *shift_params,
    ]
    with connection.cursor() as cursor:
        prepared_execute(cursor, sql, params)
        found = cursor.fetchall()
    to_datetime = _datetime_reader(connection.vendor)
    if to_datetime is None:
        return found
    return [
        (kind, first, second, mine, to_datetime(row_start), to_datetime(row_end), note)
        for kind, first, second, mine, row_start, row_end, note in found
    ]


@functools.lru_cache(maxsize=256)
def _nurse_work(encoded: str) -> NurseWork:
    """The nurse work the snapshot query encodes per session as 'setup check discharge [offsets]'
    (its protocol's); a session without a plan has the defaults."""
    if not encoded:
        return DEFAULT_NURSE_WORK
    setup, check, discharge, offsets = encoded.split(" ", 3)
    return NurseWork(
        setup_minutes=int(setup),
        check_offsets_minutes=tuple(int(o) for o in json.loads(offsets)),
        check_minutes=int(check),
        discharge_minutes=int(discharge),
    )


_ORIGIN = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@functools.lru_cache(maxsize=1024)
def _hands_offsets(encoded: str, length: dt.timedelta) -> tuple[tuple[dt.timedelta, dt.timedelta], ...]:
    """`NurseWork.hands_on` of a session `length` long (its nurse work encoded as the snapshot
    query sends it), as (start, end) offsets from the session's start: the same for every
    session of one protocol and length, so worked out once instead of for each of the
    hundreds of booked rows a snapshot reads (hands_on only adds to and compares instants)."""
    return tuple(
        (span.start - _ORIGIN, span.end - _ORIGIN) for span in _nurse_work(encoded).hands_on(_ORIGIN, _ORIGIN + length)
    )


def protocol_nurse_work(protocol: Protocol | None) -> NurseWork:
    if protocol is None:
        return DEFAULT_NURSE_WORK
    return NurseWork(
        setup_minutes=protocol.nurse_setup_minutes,
        check_offsets_minutes=tuple(protocol.nurse_check_offsets_minutes or ()),
        check_minutes=protocol.nurse_check_minutes,
        discharge_minutes=protocol.nurse_discharge_minutes,
    )


def infusions_so_far(*, patient_id: int, plan_id: int, before: dt.datetime) -> tuple[int, dt.datetime | None]:
    """How many of the plan's sessions are held or booked (a proposal numbers its sessions after
    them), and the start of the patient's latest infusion (any plan, any phase) starting before
    `before`: one read of the patient's sessions, by hand (a proposal's read, see `_opening_read`)."""
    statuses = list(INFUSION_STATUSES)
    sql = (
        "SELECT COALESCE(SUM(CASE WHEN plan_id = %s THEN 1 ELSE 0 END), 0),"  # noqa: S608 - the model's table
        " MAX(CASE WHEN starts_at < %s THEN starts_at END)"
        f" FROM {Appointment._meta.db_table} WHERE patient_id = %s AND status IN ({in_list(statuses)})"
    )
    params = [plan_id, connection.ops.adapt_datetimefield_value(before), patient_id, *statuses]
    with connection.cursor() as cursor:
        prepared_execute(cursor, sql, params)
        held, last = cursor.fetchone()
    to_datetime = _datetime_reader(connection.vendor)
    if last is not None and to_datetime is not None:
        last = to_datetime(last)
    return int(held), last


@functools.cache
def _datetime_reader(vendor: str) -> Callable[[Any], Any] | None:
    """How a datetime read by hand becomes the ORM's (nothing to do on PostgreSQL)."""
    return column_reader(Appointment._meta.get_field("starts_at"))


def patient_busy_spans(
    *,
    patient: Patient,
    start: dt.datetime,
    end: dt.datetime,
    exclude_appointment_ids: Iterable[int] = (),
    now: dt.datetime | None = None,
) -> list[Span]:
    """The patient's busy time in [start, end); a hold lapsed by `now` is free (see booking_snapshot)."""
    rows = Appointment.objects.filter(
        patient=patient,
        status__in=BLOCKING_STATUSES,
        starts_at__gt=start - MAX_SESSION_LENGTH,
        starts_at__lt=end,
        ends_at__gt=start,
    ).exclude(pk__in=list(exclude_appointment_ids))
    if now is not None:
        rows = rows.exclude(lapsed_holds(now))
    return [Span(s, e) for s, e in rows.values_list("starts_at", "ends_at")]


def induction_rule(protocol: Protocol) -> InductionRule:
    minutes = dt.timedelta(minutes=protocol.session_minutes)
    gap = dt.timedelta(hours=protocol.min_gap_hours)
    if protocol.induction_pattern == Protocol.InductionPattern.WEEKLY:
        return InductionRule(
            session_length=minutes, min_gap=gap, route=protocol.route, weekly_counts=tuple(protocol.weekly_counts)
        )
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


@dataclass(frozen=True)
class MaintenanceDue:
    """When a maintenance plan's next session is due: its interval after the latest session."""

    day: dt.date
    after: dt.date  # the local day of the latest session, held or booked
    rule: MaintenanceRule


def maintenance_due(plan: TreatmentPlan, last_session: dt.datetime | None = None) -> MaintenanceDue | None:
    """The plan's next maintenance session's due day, as maintenance is laid out (`maintenance_target`):
    the plan's interval after its latest session held or booked (`last_session` when the caller has
    read it, else one query). None before any session."""
    if last_session is None:
        last_session = (
            plan.appointments.filter(status__in=INFUSION_STATUSES)
            .order_by("-starts_at")
            .values_list("starts_at", flat=True)
            .first()
        )
    if last_session is None:
        return None
    rule = maintenance_rule(plan)
    after = local_day(last_session, plan.site.zone)
    due, _ = maintenance_target(after, rule, None)
    return MaintenanceDue(day=due, after=after, rule=rule)


def plan_preferences(plan: TreatmentPlan) -> Preferences:
    weekdays = frozenset(plan.preferred_weekdays) if plan.preferred_weekdays else frozenset(range(7))
    return Preferences(weekdays=weekdays, earliest=plan.earliest_start, latest=plan.latest_start)


def patient_appointments(patient: Patient) -> QuerySet[Appointment]:
    """A patient's own sessions as the patient sees them (portal, calendar feed, the API with a
    patient's token): a time an outside system holds for a few minutes is not a booking, neither
    while held nor once released unbooked (lapsed, cancelled by the EHR, released with a paused
    plan): a cancelled hold that was never booked, by its history."""
    ever_booked = Appointment.history.model.objects.filter(id=OuterRef("pk"), status=AppointmentStatus.BOOKED)
    return (
        Appointment.objects.filter(patient=patient)
        .exclude(status=AppointmentStatus.HELD)
        .exclude(Q(status=AppointmentStatus.CANCELLED, hold_expires_at__isnull=False) & ~Exists(ever_booked))
    )


def rule_sessions(patient_id: int, *, now: dt.datetime | None = None) -> QuerySet[Appointment]:
    """The patient's sessions that occupy time (any plan, or none), in order: what a plan's rules
    are checked against (scheduling.services.appointments.plan_rule_violations). A hold lapsed by
    `now` is none, though the sweep may not have cancelled it yet (None: every hold counts)."""
    rows = Appointment.objects.filter(patient_id=patient_id, status__in=BLOCKING_STATUSES)
    if now is not None:
        rows = rows.exclude(lapsed_holds(now))
    return rows.order_by("starts_at")


def day_board(*, site: Site, day: dt.date, now: dt.datetime | None = None) -> list[Appointment]:
    """Every appointment at `site` on local `day`, with what the board shows. Two queries. With
    `now`, a hold that lapsed by then is left out: its time is free (the board offers it as a gap)
    though the minute's sweep may not have cancelled it yet."""
    from scheduling.engine.wallclock import day_bounds

    start, end = day_bounds(day, site.zone)
    rows = Appointment.objects.filter(
        site=site, starts_at__gt=start - MAX_SESSION_LENGTH, starts_at__lt=end, ends_at__gt=start
    )
    if now is not None:
        rows = rows.exclude(lapsed_holds(now))
    return list(
        rows.select_related("patient", "chair", "nurse__user", "plan__protocol").order_by("chair__name", "starts_at")
    )


# --- Sessions the site's set-up no longer allows ------------------------------------------

# How far ahead the sessions to move are looked for: the booked maintenance of half a year.
TO_MOVE_HORIZON = dt.timedelta(weeks=26)


@dataclass(frozen=True)
class SessionToMove:
    appointment: Appointment
    problem: str  # in the engine's words (booked_session_problem)


def sessions_to_move(*, site: Site, now: dt.datetime, until: dt.datetime) -> list[SessionToMove]:
    """The sessions booked at `site` from `now` until `until` that the site's set-up, as it
    stands, no longer allows (a closure added, hours shortened, a chair taken out of use or
    re-equipped, a nurse's shift removed, a lower ratio, fewer setups at once per nurse or longer
    hands-on minutes in a protocol), each with what it breaks, by start.

    Booking checks the set-up of the moment; a change made after it (or while it ran) leaves
    the session where it was: this is how the desk finds it to move. A fixed number of reads,
    whatever the number of sessions: the site's snapshot over the window and the sessions."""
    availability = Availability(site_snapshot(site=site, start=now, end=until, now=now))
    rows = (
        Appointment.objects.filter(site=site, status__in=UPCOMING_STATUSES, starts_at__gte=now, starts_at__lt=until)
        .select_related("patient", "chair", "nurse__user", "plan__protocol")
        .order_by("starts_at", "pk")
    )
    found = []
    for appointment in rows:
        problem = session_problem(availability, appointment)
        if problem:
            found.append(SessionToMove(appointment, problem))
    return found


def session_problem(availability: Availability, appointment: Appointment) -> str | None:
    """What booked `appointment` breaks of its site's set-up now, read from `availability` (a
    snapshot of its site over its time); None when it still fits. Its plan and protocol must
    come with it (select_related("plan__protocol")): they give its nurse work."""
    slot = Slot(appointment.starts_at, appointment.ends_at, appointment.chair_id, appointment.nurse_id or 0)
    # The plan and protocol come with the rows (select_related): no read per session.
    protocol = appointment.plan.protocol if appointment.plan is not None else None
    return booked_session_problem(
        availability, slot, route=appointment.session_route, work=protocol_nurse_work(protocol)
    )


# --- The booking's references in one statement -------------------------------------------


@dataclass(frozen=True)
class _ReferencesRead:
    sql: str
    patient: ModelColumns[Patient]
    home_site: ModelColumns[Site]
    site: ModelColumns[Site]
    policy: ModelColumns[ReminderPolicy]
    chair: ModelColumns[Chair]
    nurse: ModelColumns[StaffMember]
    nurse_user: ModelColumns


_NOTHING = -1  # an id no row has: a reference the body leaves out matches nothing


@functools.cache
def _references_read(vendor: str, site_count: int | None) -> _ReferencesRead:
    """The statement for `booking_references`, built once per vendor and number of site ids
    (None: clinic-wide staff, no site condition)."""
    from django.contrib.auth import get_user_model

    patient, home_site = ModelColumns(Patient, "p"), ModelColumns(Site, "hs")
    site, policy = ModelColumns(Site, "s"), ModelColumns(ReminderPolicy, "rp")
    chair, nurse, nurse_user = (
        ModelColumns(Chair, "c"),
        ModelColumns(StaffMember, "n"),
        ModelColumns(get_user_model(), "nu"),
    )
    table = {
        model: model._meta.db_table
        for model in (
            Patient,
            Site,
            ReminderPolicy,
            Chair,
            StaffMember,
            OpeningHours,
            Appointment,
            TreatmentPlan,
            get_user_model(),
        )
    }
    through = StaffMember.sites.through._meta.db_table
    if vendor == "postgresql":
        hours = (
            "COALESCE(JSONB_AGG(JSONB_BUILD_OBJECT('weekday', oh.weekday, 'opens', oh.opens_at,"
            " 'closes', oh.closes_at)), '[]')"
        )
    else:
        hours = "JSON_GROUP_ARRAY(JSON_OBJECT('weekday', oh.weekday, 'opens', oh.opens_at, 'closes', oh.closes_at))"
    if site_count is None:
        patient_scope = site_scope = chair_scope = nurse_scope = "TRUE"
    else:
        # The same rules as clinic.permissions.scope_to_staff (tests hold the two together).
        ids = ", ".join(f"%(site_{index})s" for index in range(site_count)) or "NULL"
        patient_scope = (
            f"(p.home_site_id IN ({ids})"  # noqa: S608 - model tables and placeholders only
            f" OR EXISTS (SELECT 1 FROM {table[Appointment]} pa JOIN {table[Chair]} pc ON pc.id = pa.chair_id"
            f" WHERE pa.patient_id = p.id AND pc.site_id IN ({ids}))"
            f" OR EXISTS (SELECT 1 FROM {table[TreatmentPlan]} pp WHERE pp.patient_id = p.id AND pp.site_id IN ({ids})))"
        )
        site_scope = f"s.id IN ({ids})"
        chair_scope = f"c.site_id IN ({ids})"
        nurse_scope = (
            f"(n.all_sites OR n.id = %(actor)s"  # noqa: S608 - model tables and placeholders only
            f" OR EXISTS (SELECT 1 FROM {through} ns WHERE ns.staffmember_id = n.id AND ns.site_id IN ({ids})))"
        )
    sql = (
        f"SELECT {patient.select}, {home_site.select}, {site.select}, {policy.select},"  # noqa: S608 - model tables
        f" (SELECT {hours} FROM {table[OpeningHours]} oh WHERE oh.site_id = s.id),"
        f" {chair.select}, {nurse.select}, {nurse_user.select}"
        " FROM (SELECT 1 AS one) AS here"
        f" LEFT JOIN {table[Patient]} p ON p.id = %(patient)s AND {patient_scope}"
        f" LEFT JOIN {table[Site]} hs ON hs.id = p.home_site_id"
        f" LEFT JOIN {table[Site]} s ON s.id = %(site)s AND {site_scope}"
        f" LEFT JOIN {table[ReminderPolicy]} rp ON rp.site_id = s.id"
        f" LEFT JOIN {table[Chair]} c ON c.id = %(chair)s AND {chair_scope}"
        f" LEFT JOIN {table[StaffMember]} n ON n.id = %(nurse)s AND n.role = %(nurse_role)s AND {nurse_scope}"
        f" LEFT JOIN {table[get_user_model()]} nu ON nu.id = n.user_id"
    )
    return _ReferencesRead(sql, patient, home_site, site, policy, chair, nurse, nurse_user)


def booking_references(
    *,
    staff: StaffMember | None,
    patient_id: int | None = None,
    site_id: int | None = None,
    chair_id: int | None = None,
    nurse_id: int | None = None,
) -> dict[str, Any]:
    """The patient (with their home site), the site (with its reminder policy and opening
    hours, as `sites_with_schedule` gives it), the chair and the nurse (with their user) a
    booking names, each only if `staff` may see it (clinic.permissions.scope_to_staff) and
    None otherwise: one statement instead of four, and no queryset to build. `staff` None
    sees every site (a caller without an actor, such as a script)."""
    ids = None if staff is None else site_ids(staff)
    read = _references_read(connection.vendor, None if ids is None else len(ids))
    params: dict[str, Any] = {
        "patient": _NOTHING if patient_id is None else patient_id,
        "site": _NOTHING if site_id is None else site_id,
        "chair": _NOTHING if chair_id is None else chair_id,
        "nurse": _NOTHING if nurse_id is None else nurse_id,
        "nurse_role": Role.NURSE.value,
        "actor": staff.pk if staff is not None else _NOTHING,
    }
    if ids is not None:
        params.update((f"site_{index}", site_id) for index, site_id in enumerate(sorted(ids)))
    with connection.cursor() as cursor:
        prepared_execute(cursor, read.sql, params)
        row = cursor.fetchone()
    offset = 0
    loaded: dict[str, Any] = {}
    columns: ModelColumns[Any]
    for name, columns in (
        ("patient", read.patient),
        ("home_site", read.home_site),
        ("site", read.site),
        ("policy", read.policy),
    ):
        loaded[name] = columns.load(row, offset)
        offset += columns.width
    opening_rows = row[offset]
    offset += 1
    for name, columns in (("chair", read.chair), ("nurse", read.nurse), ("nurse_user", read.nurse_user)):
        loaded[name] = columns.load(row, offset)
        offset += columns.width
    patient, site = loaded["patient"], loaded["site"]
    if patient is not None:
        patient._state.fields_cache["home_site"] = loaded["home_site"]
    if site is not None:
        site.opening_rows = opening_rows
        site._state.fields_cache["reminder_policy"] = loaded["policy"]
    nurse = loaded["nurse"]
    if nurse is not None:
        nurse._state.fields_cache["user"] = loaded["nurse_user"]
    return {"patient": patient, "site": site, "chair": loaded["chair"], "nurse": nurse}


# --- Day templates (scheduling/engine/day_template.py, scheduling/services/day_template.py) ---

DAY_TEMPLATE_MIX_WEEKS = 8
# The typical day's nurse shifts come from this many days either side of today.
DAY_TEMPLATE_SHIFT_DAYS = 28


def latest_day_template(*, site_id: int) -> DayTemplate | None:
    return (
        DayTemplate.objects.filter(site_id=site_id, state=DayTemplateState.DONE)
        .select_related("computed_by")
        .order_by("-computed_at", "-pk")
        .first()
    )


@dataclass(frozen=True)
class TemplateNurses:
    """Who a day template's starts are for on one day: (chair id, "HH:MM") -> the nurse's staff id."""

    day: dt.date
    nurses: dict[tuple[int, str], int]


def day_template_nurses(*, site: Site, template: DayTemplate, today: dt.date, days: int = 14) -> TemplateNurses | None:
    """The nurses placement gives the template's starts (`template_nurse`) on the first day from
    `today`, within `days`, that the site opens the hours the template was solved for, not closed,
    with a nurse on shift, and without a day plan (a day solved again around its bookings: placement
    takes that plan's starts and nurses, not the template's); None when there is none."""
    opening = (template.inputs or {}).get("opening")
    if not opening or not template.starts:
        return None
    hours = (dt.time.fromisoformat(opening[0]), dt.time.fromisoformat(opening[1]))
    zone = site.zone
    first, _ = day_bounds(today, zone)
    _, last = day_bounds(today + dt.timedelta(days=days - 1), zone)
    snapshot = site_snapshot(site=site, start=first, end=last, closure_reasons=False)
    availability = Availability(snapshot)
    minutes = {int(p["id"]): int(p["chair_minutes"]) for p in template.inputs.get("protocols", ())}
    shifts = template_start_shifts(template.starts)
    planned = set(
        DayPlan.objects.filter(site=site, day__gte=today, day__lt=today + dt.timedelta(days=days)).values_list(
            "day", flat=True
        )
    )
    for offset in range(days):
        day = today + dt.timedelta(days=offset)
        if snapshot.opening.get(day.weekday()) != hours or day in planned:
            continue
        opens, closes = opening_instant(day, hours[0], zone), opening_instant(day, hours[1], zone)
        if any(span.start < closes and opens < span.end for span, _ in snapshot.closures):
            continue
        found = {}
        for entry in template.starts:
            chair_id, start = int(entry["chair_id"]), dt.time.fromisoformat(entry["start"])
            begins = opening_instant(day, start, zone)
            span = Span(begins, begins + dt.timedelta(minutes=minutes.get(int(entry["protocol_id"]), 0)))
            lane = entry.get("lane")
            nurse = template_nurse(
                availability, span, shift=shifts.get((chair_id, start)), lane=None if lane is None else int(lane)
            )
            if nurse is not None:
                found[chair_id, entry["start"]] = nurse
        if found:
            return TemplateNurses(day=day, nurses=found)
    return None


def _template_entries(site_id: int) -> list[dict[str, Any]]:
    """The starts of the site's current day template (one query); empty when there is none."""
    row = (
        DayTemplate.objects.filter(site_id=site_id, state=DayTemplateState.DONE)
        .order_by("-computed_at", "-pk")
        .values_list("starts", flat=True)
        .first()
    )
    return list(row or ())


def _starts_of(entries: list[dict[str, Any]]) -> dict[int, frozenset[dt.time]]:
    starts: dict[int, set[dt.time]] = defaultdict(set)
    for entry in entries:
        starts[int(entry["chair_id"])].add(dt.time.fromisoformat(entry["start"]))
    return {chair_id: frozenset(times) for chair_id, times in starts.items()}


def template_start_shifts(entries: Iterable[dict[str, Any]]) -> dict[tuple[int, dt.time], tuple[dt.time, dt.time, int]]:
    """(chair id, local start) -> the nurse a template solved per nurse gives the start: her
    shift's local start and end, and her rank among the nurses on that shift."""
    return {
        (int(e["chair_id"]), dt.time.fromisoformat(e["start"])): (
            dt.time.fromisoformat(e["shift"][0]),
            dt.time.fromisoformat(e["shift"][1]),
            int(e.get("shift_rank") or 0),
        )
        for e in entries
        if e.get("shift")
    }


def preferred_starts(
    *,
    site_id: int,
    day: dt.date | None = None,
    opening: tuple[dt.time, dt.time] | None = None,
    placement_policy: str | None = None,
) -> dict[int, frozenset[dt.time]]:
    """The starts of preferred_starts_of_day."""
    starts, _ = preferred_starts_of_day(site_id=site_id, day=day, opening=opening, placement_policy=placement_policy)
    return starts


def preferred_starts_of_day(
    *,
    site_id: int,
    day: dt.date | None = None,
    opening: tuple[dt.time, dt.time] | None = None,
    placement_policy: str | None = None,
) -> tuple[dict[int, frozenset[dt.time]], bool]:
    """(starts, whether they are the `day`'s day plan's rather than the template's). The starts:
    chair id -> the local start times of the site's current day template, or, for a `day` that
    has a day plan of that template, that plan's; empty when there is neither. Given the `day`'s
    `opening`, the template's own starts count only if it was solved for those hours, as placement
    has it (engine.placement, `template_opening`); a day plan is that day's. Given the site's
    `placement_policy`, none under earliest, which books by no template (`site_placement`), nor by
    a day plan left from when the site level-loaded. One query, none under earliest."""
    if placement_policy == EARLIEST:
        return {}, False
    if day is None:
        return _starts_of(_template_entries(site_id)), False
    row = (
        DayTemplate.objects.filter(site_id=site_id, state=DayTemplateState.DONE)
        .order_by("-computed_at", "-pk")
        .annotate(
            planned=Subquery(
                DayPlan.objects.filter(site_id=site_id, day=day, template_id=OuterRef("pk")).values("starts")[:1]
            )
        )
        .values_list("starts", "planned", "inputs")
        .first()
    )
    if row is None:
        return {}, False
    starts, planned, inputs = row
    if planned is not None:
        return _starts_of(list(planned)), True
    solved_for = (inputs or {}).get("opening")
    if opening is not None and solved_for and tuple(dt.time.fromisoformat(t) for t in solved_for) != opening:
        return {}, False  # a day open other hours than the template's: placement does not prefer its starts
    return _starts_of(list(starts or ())), False


@dataclass(frozen=True)
class DayTemplateInputs:
    chairs: list[TemplateChair]
    opening: tuple[dt.time, dt.time] | None
    nurse_shifts: list[NurseShift]
    protocols: list[TemplateProtocol]
    setups_per_nurse: int
    max_patients_per_nurse: int
    step_minutes: int
    bookings_counted: int


def _typical_opening(opening: dict[int, tuple[dt.time, dt.time]]) -> tuple[dt.time, dt.time] | None:
    """The opening hours of the most weekdays (the earlier on a tie): the day the template is solved for."""
    hours = Counter(opening.values())
    return min(hours.items(), key=lambda item: (-item[1], item[0]))[0] if hours else None


def _typical_nurse_shifts(
    site: Site, *, now: dt.datetime, opening: dict[int, tuple[dt.time, dt.time]]
) -> list[NurseShift]:
    """The most frequent pattern of nurse shifts over the open days around `now` (one entry per
    nurse), counting the shifts booking counts: a nurse's while she is active and works at the
    site (a nurse taken off it keeps the shifts typed in there, and is not booked there).

    A shift counts on each open local day whose opening hours it overlaps, with its hours on that
    day: an overnight shift (Saturday 22:00 to Sunday 07:00) is Sunday's 00:00-07:00 for a clinic
    open Sunday nights, as booking gives its nurse the Sunday sessions. A shift within one day
    keeps its own hours (`shift_hours`), the name placement finds its nurse by."""
    zone = site.zone
    today = now.astimezone(zone).date()
    first, _ = day_bounds(today - dt.timedelta(days=DAY_TEMPLATE_SHIFT_DAYS), zone)
    _, last = day_bounds(today + dt.timedelta(days=DAY_TEMPLATE_SHIFT_DAYS), zone)
    works_here = StaffMember.sites.through.objects.filter(staffmember_id=OuterRef("staff_id"), site_id=site.pk)
    rows = (
        Shift.objects.filter(
            site=site,
            staff__role=Role.NURSE,
            staff__active=True,
            starts_at__lt=last,
            starts_at__gte=first - MAX_SHIFT_LENGTH,
            ends_at__gt=first,
        )
        .filter(Q(staff__all_sites=True) | Exists(works_here))
        .values_list("starts_at", "ends_at")
    )
    open_spans: dict[dt.date, tuple[dt.datetime, dt.datetime] | None] = {}

    def open_span(day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        # The day's opening as instants, DST-safe as booking reads it (`opening_instant`).
        if day not in open_spans:
            hours = opening.get(day.weekday())
            open_spans[day] = (
                (opening_instant(day, hours[0], zone), opening_instant(day, hours[1], zone)) if hours else None
            )
        return open_spans[day]

    by_day: dict[dt.date, list[tuple[dt.time, dt.time]]] = defaultdict(list)
    for starts_at, ends_at in rows:
        # [starts_at, ends_at): a shift ending at midnight does not touch the day after.
        day = max(starts_at, first).astimezone(zone).date()
        final = (min(ends_at, last) - dt.timedelta(microseconds=1)).astimezone(zone).date()
        while day <= final:
            opens = open_span(day)
            if opens is not None and starts_at < opens[1] and opens[0] < ends_at:
                midnight, next_midnight = day_bounds(day, zone)
                by_day[day].append(shift_hours(max(starts_at, midnight), min(ends_at, next_midnight), zone))
            day += dt.timedelta(days=1)
    patterns = Counter(tuple(sorted(spans)) for spans in by_day.values())
    if not patterns:
        return []
    pattern = min(patterns.items(), key=lambda item: (-item[1], -len(item[0]), item[0]))[0]
    return [NurseShift(starts=start, ends=end) for start, end in pattern]


def template_protocol(protocol: Protocol, *, weight: float) -> TemplateProtocol:
    """A protocol as the day-template solver sees it: its chair time and its nurse's hands-on work."""
    return TemplateProtocol(
        id=protocol.pk,
        route=protocol.route,
        chair_minutes=protocol.session_minutes,
        setup_minutes=protocol.nurse_setup_minutes,
        weight=weight,
        check_offsets=tuple(protocol.nurse_check_offsets_minutes or ()),
        check_minutes=protocol.nurse_check_minutes,
        discharge_minutes=protocol.nurse_discharge_minutes,
    )


def day_template_inputs(*, site: Site, now: dt.datetime) -> DayTemplateInputs:
    """What the day-template solver needs for `site`, read in five queries: its active chairs, the
    typical opening, the typical day's nurse shifts, and the protocol mix of the last eight weeks'
    sessions (every active protocol alike when there were none)."""
    chairs = [
        TemplateChair(id=pk, routes=frozenset(equipment or ()))
        for pk, equipment in Chair.objects.filter(site=site, active=True).order_by("pk").values_list("pk", "equipment")
    ]
    hours = opening_hours(site)
    opening = _typical_opening(hours)
    mix = Counter(
        dict(
            Appointment.objects.filter(
                site=site,
                starts_at__gte=now - dt.timedelta(weeks=DAY_TEMPLATE_MIX_WEEKS),
                starts_at__lt=now,
                plan__isnull=False,
            )
            .exclude(status=AppointmentStatus.CANCELLED)
            .values_list("plan__protocol")
            .annotate(count=Count("pk"))
            .values_list("plan__protocol", "count")
        )
    )
    wanted = Protocol.objects.filter(pk__in=list(mix)) if mix else Protocol.objects.filter(active=True)
    protocols = [
        template_protocol(protocol, weight=float(mix.get(protocol.pk, 1))) for protocol in wanted.order_by("pk")
    ]
    return DayTemplateInputs(
        chairs=chairs,
        opening=opening,
        nurse_shifts=_typical_nurse_shifts(site, now=now, opening=hours),
        protocols=protocols,
        setups_per_nurse=site.setups_per_nurse,
        max_patients_per_nurse=site.max_patients_per_nurse,
        step_minutes=site.slot_step_minutes,
        bookings_counted=sum(mix.values()),
    )


# --- Day plans (scheduling/services/day_plans.py) ---------------------------------------------


@dataclass(frozen=True)
class PlanBooking:
    """A session as a day plan weighs it: where and when it starts (local wall clock), how long it
    takes, its nurse, and the nurses on shift over all of it (by id: the k-th is the nurse of
    template lane k)."""

    id: int
    chair_id: int
    nurse_id: int | None
    clock: dt.time
    minutes: int
    on_shift: tuple[int, ...]
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass
class PlanDay:
    """What one local day holds for its day plan: its sessions, and the nurse shifts and closures
    that touch it (as (who, start, end) and (chair, start, end) instants; chair None: the site's)."""

    bookings: list[PlanBooking] = field(default_factory=list)
    shifts: list[tuple[int, dt.datetime, dt.datetime]] = field(default_factory=list)
    closures: list[tuple[int | None, dt.datetime, dt.datetime]] = field(default_factory=list)

    def nurses_by_shift_hours(self, zone: ZoneInfo, day: dt.date) -> dict[tuple[dt.time, dt.time], list[int]]:
        """(local start, local end) of a shift -> the nurses working it this day (`day`), by id:
        which nurse a template start naming a shift and a rank means (`template_start_shifts`).
        Only shifts that begin on the day: a start names a shift by its own day's hours, so an
        overnight shift from the day before (22:00-06:00) is that day's, as placement reads it
        (`Availability.nurses_on_shift(shift=)`: the nurses whose shift covers the start)."""
        found: dict[tuple[dt.time, dt.time], set[int]] = defaultdict(set)
        for who, begins, ends in self.shifts:
            if begins.astimezone(zone).date() == day:
                found[shift_hours(begins, ends, zone)].add(who)
        return {hours: sorted(nurses) for hours, nurses in found.items()}

    def digest(self, site_part: str, bookings: Iterable[PlanBooking]) -> str:
        """A fingerprint of the day as a plan was solved for it: the site's part (chairs, hours,
        ratio, setups, grid, template), its shifts and closures (a chair's with that chair), and
        `bookings` where they are now (chair, nurse, start, end): a session moved, a closure added
        or given to another chair, a nurse off sick all change it."""
        data = [
            site_part,
            sorted((who, a.isoformat(), b.isoformat()) for who, a, b in self.shifts),
            sorted((chair or 0, a.isoformat(), b.isoformat()) for chair, a, b in self.closures),
            sorted(
                (b.id, b.chair_id, b.nurse_id or 0, b.starts_at.isoformat(), b.ends_at.isoformat()) for b in bookings
            ),
        ]
        return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()


def day_plan_site_part(site: Site, template: DayTemplate) -> str:
    """What every day plan of `site` depends on besides the day: the active chairs and their
    equipment, the opening hours, the ratio, the setups per nurse, the grid and the template."""
    chairs = list(Chair.objects.filter(site=site, active=True).order_by("pk").values_list("pk", "equipment"))
    hours = sorted((day, opens.isoformat(), closes.isoformat()) for day, (opens, closes) in opening_hours(site).items())
    data = [
        template.pk,
        [(pk, sorted(equipment or ())) for pk, equipment in chairs],
        hours,
        site.max_patients_per_nurse,
        site.setups_per_nurse,
        site.slot_step_minutes,
        site.time_zone,
    ]
    return json.dumps(data, separators=(",", ":"))


def day_plan_inputs(*, site: Site, first: dt.date, last: dt.date) -> dict[dt.date, PlanDay]:
    """The site's local days first..last that hold a session, a nurse shift or a closure, in three
    queries (sessions, nurse shifts, closures)."""
    zone = site.zone
    begins, _ = day_bounds(first, zone)
    _, ends = day_bounds(last, zone)
    days: dict[dt.date, PlanDay] = defaultdict(PlanDay)

    def touched(start: dt.datetime, end: dt.datetime) -> Iterable[dt.date]:
        # [start, end): a shift or closure ending at midnight does not touch the day after.
        last_instant = min(end, ends) - dt.timedelta(microseconds=1)
        day, final = max(start, begins).astimezone(zone).date(), last_instant.astimezone(zone).date()
        while day <= final:
            yield day
            day += dt.timedelta(days=1)

    # A shift counts only while its nurse works at the site, as booking's snapshot reads it
    # (`_snapshot_rows`): one taken off the site's staff is no longer given a share of its days.
    works_here = StaffMember.sites.through.objects.filter(staffmember_id=OuterRef("staff_id"), site_id=site.pk)
    for staff_id, starts_at, ends_at in (
        Shift.objects.filter(
            site=site,
            staff__role=Role.NURSE,
            staff__active=True,
            starts_at__gt=begins - MAX_SHIFT_LENGTH,
            starts_at__lt=ends,
            ends_at__gt=begins,
        )
        .filter(Q(staff__all_sites=True) | Exists(works_here))
        .values_list("staff_id", "starts_at", "ends_at")
    ):
        for day in touched(starts_at, ends_at):
            days[day].shifts.append((staff_id, starts_at, ends_at))
    for chair_id, starts_at, ends_at in Closure.objects.filter(
        Q(site=site) | Q(site__isnull=True), starts_at__lt=ends, ends_at__gt=begins
    ).values_list("chair_id", "starts_at", "ends_at"):
        for day in touched(starts_at, ends_at):
            days[day].closures.append((chair_id, starts_at, ends_at))
    for pk, chair_id, nurse_id, starts_at, ends_at in Appointment.objects.filter(
        site=site, status__in=BLOCKING_STATUSES, starts_at__gte=begins, starts_at__lt=ends
    ).values_list("pk", "chair_id", "nurse_id", "starts_at", "ends_at"):
        local = starts_at.astimezone(zone)
        held = days[local.date()]
        # A shift covering the session touches the day it starts on: that day's shifts suffice.
        on_shift = tuple(sorted({staff for staff, a, b in held.shifts if a <= starts_at and ends_at <= b}))
        held.bookings.append(
            PlanBooking(
                pk,
                chair_id,
                nurse_id,
                local.time().replace(tzinfo=None),
                math.ceil((ends_at - starts_at).total_seconds() / 60),
                on_shift,
                starts_at,
                ends_at,
            )
        )
    return dict(days)


def day_plan_protocols(template: DayTemplate) -> list[TemplateProtocol]:
    """The protocols of `template`'s starts as its solve weighed them (the mix it was given)."""
    weights = {
        int(entry["id"]): float(entry.get("weight") or 1.0)
        for entry in (template.inputs or {}).get("protocols", ())
        if isinstance(entry, dict) and "id" in entry
    }
    ids = {int(entry["protocol_id"]) for entry in template.starts if entry.get("protocol_id")}
    return [
        template_protocol(protocol, weight=weights.get(protocol.pk, 1.0))
        for protocol in Protocol.objects.filter(pk__in=ids).order_by("pk")
    ]


def coming_day_plans(*, site: Site, today: dt.date, limit: int = 31) -> list[DayPlan]:
    """The site's day plans from `today` on, nearest first (the day-template page lists them)."""
    return list(DayPlan.objects.filter(site=site, day__gte=today).order_by("day")[:limit])


def _plan_starts(
    entries: list[dict[str, Any]],
) -> tuple[dict[int, frozenset[dt.time]], dict[tuple[int, dt.time], int]]:
    """A day plan's starts per chair, and the nurse it gives each start that has one."""
    nurses = {
        (int(e["chair_id"]), dt.time.fromisoformat(e["start"])): int(e["nurse_id"])
        for e in entries
        if e.get("nurse_id") is not None
    }
    return _starts_of(entries), nurses


# --- Placement (scheduling/engine/placement.py) ---------------------------------------------

# How many of the patient's latest sessions say what is usual for them.
HABIT_SESSIONS = 6
# Only sessions the patient attended say what is usual for them (as `plans.usual_preferences`):
# a booked or held one is a time the desk or the planner chose, such as the session being moved
# or a layout being planned again, and would only confirm itself.
HABIT_STATUS = AppointmentStatus.COMPLETED


def patient_habits(patient: Patient | None, *, site: Site) -> Habits:
    """The patient's usual weekday, local start time and chair at `site`: the most common of
    the latest sessions they attended there (ties: the latest). One query."""
    if patient is None:
        return Habits()
    rows = list(
        Appointment.objects.filter(patient=patient, site=site, status=HABIT_STATUS)
        .order_by("-starts_at")
        .values_list("starts_at", "chair_id")[:HABIT_SESSIONS]
    )
    return _habits_of(rows, site)


def _habits_of(rows: list[tuple[dt.datetime, int]], site: Site) -> Habits:
    """Habits from the latest sessions the patient attended at `site`, latest first."""
    if not rows:
        return Habits()
    zone = site.zone
    locals_ = [(start.astimezone(zone), chair_id) for start, chair_id in rows]

    def usual(values: list) -> Any:
        counts = Counter(values)
        return max(values, key=lambda value: counts[value])  # first (latest) of the most common

    return Habits(
        weekday=usual([local.weekday() for local, _ in locals_]),
        clock=usual([local.time().replace(tzinfo=None) for local, _ in locals_]),
        chair_id=usual([chair_id for _, chair_id in locals_]),
    )


def _equipped_sql() -> str:
    """A condition: chair `c` is equipped for protocol `p`'s route (a session is booked only in a
    chair equipped for its route, `site_problem`)."""
    if connection.vendor == "sqlite":
        return "EXISTS (SELECT 1 FROM json_each(c.equipment) e WHERE e.value = p.route)"
    return "c.equipment @> jsonb_build_array(p.route)"


def _shortest_by_chair_sql() -> str:
    """A query of rows (chair_id, minutes): each active chair of a site -> the shortest chair time of
    the active protocols whose route that chair is equipped for (`_equipped_sql`), a chair equipped
    for none left out; then one row (NULL, the shortest chair time of every active protocol), its
    minutes NULL without any active protocol. One %s: the site's id. Shared by the board
    (`shortest_session_minutes_by_chair`) and the level placement's one read (`_placement_rows`),
    so both measure a chair's gaps alike."""
    protocol, chair = Protocol._meta.db_table, Chair._meta.db_table
    return (
        f"SELECT c.id AS chair_id, MIN(p.session_minutes) AS minutes FROM {chair} c JOIN {protocol} p"  # noqa: S608
        f" ON {_equipped_sql()} WHERE c.site_id = %s AND c.active AND p.active GROUP BY c.id"
        f" UNION ALL SELECT NULL, MIN(p.session_minutes) FROM {protocol} p WHERE p.active"
    )


def _shortest_by_chair(rows: Iterable[tuple[int | None, int | None]]) -> dict[int, int] | None:
    """The rows of `_shortest_by_chair_sql` as chair id -> minutes; None without any active protocol."""
    rows = list(rows)
    if not any(chair_id is None and shortest is not None for chair_id, shortest in rows):
        return None
    return {chair_id: shortest for chair_id, shortest in rows if chair_id is not None and shortest is not None}


def shortest_session_minutes_by_chair(*, site: Site) -> dict[int, int] | None:
    """Each active chair of `site` -> the shortest chair time of the active protocols whose route that
    chair is equipped for: a gap in the chair shorter than it is lost. A chair equipped for no active
    protocol's route is left out (no session of a protocol can be booked in it, so no gap there is of
    use). None without any active protocol at all. One query, grouped by chair, however many chairs.
    The level placement reads the same within its one read (`_placement_rows`)."""
    with connection.cursor() as cursor:
        cursor.execute(_shortest_by_chair_sql(), [site.pk])
        return _shortest_by_chair(cursor.fetchall())


def _placement_rows(
    site: Site, patient: Patient | None, *, with_template: bool
) -> tuple[
    dict[int, int] | None,
    list[dict[str, Any]],
    tuple[dt.time, dt.time] | None,
    list[tuple[dt.datetime, int]],
    tuple[dict[dt.date, dict[int, frozenset[dt.time]]], dict[dt.date, dict[tuple[int, dt.time], int]]],
]:
    """What the level policy weighs besides the bookings, in one read: the shortest session each
    chair can take (`_shortest_by_chair_sql`, as the board measures it; None without any active
    protocol), the starts of the site's current day template, the
    opening hours it was solved for, and its day plans (`with_template`; the plans by day) and the latest sessions the
    patient attended at the site (latest first).

    One UNION ALL by hand, like the snapshot's: the level policy reads these on every proposal
    and booking, and building three ORM queries cost it more CPU than the database spends
    answering them (`shortest_session_minutes_by_chair`, `_template_entries`, `patient_habits`
    say the same one at a time)."""
    table = {model: model._meta.db_table for model in (Appointment, DayPlan, DayTemplate)}
    # One row per chair that takes an active protocol (its id as text), and one without a chair.
    parts = [f"SELECT 'm', NULL, s.minutes, CAST(s.chair_id AS TEXT) FROM ({_shortest_by_chair_sql()}) s"]  # noqa: S608
    params: list[Any] = [site.pk]
    if patient is not None:
        parts.append(
            f"SELECT 'h', h.starts_at, h.chair_id, NULL FROM (SELECT a.starts_at, a.chair_id FROM {table[Appointment]} a"  # noqa: S608
            " WHERE a.patient_id = %s AND a.site_id = %s AND a.status = %s"
            f" ORDER BY a.starts_at DESC LIMIT {HABIT_SESSIONS}) h"
        )
        params += [patient.pk, site.pk, HABIT_STATUS.value]
    if with_template:
        # The opening hours the template was solved for: its starts are preferred only on days
        # open those hours (`Placement.template_opening`).
        opening = "json_extract(d.inputs, '$.opening')" if connection.vendor == "sqlite" else "d.inputs -> 'opening'"
        parts.append(
            # As text: PostgreSQL types the NULLs of the parts before as text, and jsonb is no text.
            f"SELECT 't', NULL, NULL, CAST(t.starts AS TEXT) FROM (SELECT d.starts FROM {table[DayTemplate]} d"  # noqa: S608
            " WHERE d.site_id = %s AND d.state = %s ORDER BY d.computed_at DESC, d.id DESC LIMIT 1) t"
            f" UNION ALL SELECT 'o', NULL, NULL, CAST(t.opening AS TEXT) FROM (SELECT {opening} AS opening"
            f" FROM {table[DayTemplate]} d WHERE d.site_id = %s AND d.state = %s"
            " ORDER BY d.computed_at DESC, d.id DESC LIMIT 1) t"
        )
        params += [site.pk, DayTemplateState.DONE.value, site.pk, DayTemplateState.DONE.value]
        # The day plans of that template (solved again around each day's bookings): the day as a
        # number of days since 1970 (a date's text depends on the server's DateStyle), and the
        # plan's id and revision; their starts are read only when this process has not parsed
        # that revision yet (`_plan_revisions`).
        days_since_1970 = (
            "CAST(julianday(p.day) - 2440587.5 AS INTEGER)"
            if connection.vendor == "sqlite"
            else "(p.day - DATE '1970-01-01')"
        )
        parts.append(
            f"SELECT 'p', NULL, {days_since_1970}, CAST(p.id AS TEXT) || ' ' || CAST(p.revision AS TEXT)"  # noqa: S608
            f" FROM {table[DayPlan]} p WHERE p.site_id = %s AND p.template_id = (SELECT d.id FROM {table[DayTemplate]} d"
            " WHERE d.site_id = %s AND d.state = %s ORDER BY d.computed_at DESC, d.id DESC LIMIT 1)"
        )
        params += [site.pk, site.pk, DayTemplateState.DONE.value]
    with connection.cursor() as cursor:
        prepared_execute(cursor, " UNION ALL ".join(parts), params)
        found = cursor.fetchall()
    shortest_rows: list[tuple[int | None, int | None]] = []
    entries: list[dict[str, Any]] = []
    template_opening: tuple[dt.time, dt.time] | None = None
    habits: list[tuple[dt.datetime, int]] = []
    plans: dict[dt.date, dict[int, frozenset[dt.time]]] = {}
    plan_nurses: dict[dt.date, dict[tuple[int, dt.time], int]] = {}
    revisions: dict[str, dt.date] = {}
    to_datetime = _datetime_reader(connection.vendor)
    for kind, starts_at, number, starts in found:
        if kind == "m":
            shortest_rows.append((None if starts is None else int(starts), number))
        elif kind == "t":
            entries = list(json.loads(starts) or ())
        elif kind == "o":
            hours = json.loads(starts) if starts else None
            if hours:
                template_opening = (dt.time.fromisoformat(hours[0]), dt.time.fromisoformat(hours[1]))
        elif kind == "p":
            revisions[starts] = _EPOCH_DAY + dt.timedelta(days=number)
        else:
            habits.append((to_datetime(starts_at) if to_datetime else starts_at, number))
    for key, (day_starts, day_nurses) in _plan_revisions(revisions).items():
        plans[revisions[key]], plan_nurses[revisions[key]] = day_starts, day_nurses
    # A UNION ALL keeps no order between its parts: the latest session first, as the subquery read them.
    habits.sort(key=lambda row: row[0], reverse=True)
    return _shortest_by_chair(shortest_rows), entries, template_opening, habits, (plans, plan_nurses)


_EPOCH_DAY = dt.date(1970, 1, 1)
# Parsed day plans by "id revision": a plan's starts change only with a new revision.
_PARSED_PLANS: OrderedDict[str, tuple[dict[int, frozenset[dt.time]], dict[tuple[int, dt.time], int]]] = OrderedDict()
_PARSED_PLANS_KEPT = 4096


def _plan_revisions(
    keys: Iterable[str],
) -> dict[str, tuple[dict[int, frozenset[dt.time]], dict[tuple[int, dt.time], int]]]:
    """The starts (and nurses) of the day plans named "id revision", parsed once per revision in
    this process; those not parsed yet are read in one query. A plan saved again since its key
    was read finds nothing this time (the day falls back to the template; the next read has the
    new key), never another revision's starts. Safe with threads: a key dropped by another
    thread between two steps is only read again."""
    keys = list(keys)
    for key in keys:
        with contextlib.suppress(KeyError):  # the least recently read go first
            _PARSED_PLANS.move_to_end(key)
    # id -> (revision, key): the key's text is the database's (a UUID as PostgreSQL or SQLite
    # writes it), so revisions are compared as UUIDs.
    missing = {
        int(pk): (uuid.UUID(revision), key)
        for key in keys
        if key not in _PARSED_PLANS
        for pk, _, revision in [key.partition(" ")]
    }
    if missing:
        for pk, revision, starts in DayPlan.objects.filter(pk__in=list(missing)).values_list(
            "pk", "revision", "starts"
        ):
            wanted, key = missing[pk]
            if revision != wanted:
                continue  # solved again since: not this key's starts
            _PARSED_PLANS[key] = _plan_starts(list(starts or ()))
            while len(_PARSED_PLANS) > _PARSED_PLANS_KEPT:
                try:
                    _PARSED_PLANS.popitem(last=False)
                except KeyError:
                    break
    found = {}
    for key in keys:
        parsed = _PARSED_PLANS.get(key)
        if parsed is not None:
            found[key] = parsed
    return found


def site_placement(
    site: Site,
    *,
    patient: Patient | None = None,
    preferred_starts: dict[int, frozenset[dt.time]] | None = None,
) -> Placement:
    """How proposals at `site` choose among free times: the site's policy and, for the level
    policy, what it weighs (the day template, the patient's habits, each chair's shortest session).
    No query under the earliest policy, one under level."""
    if site.placement_policy != EARLIEST:
        shortest, entries, template_opening, habit_rows, (plans, plan_nurses) = _placement_rows(
            site, patient, with_template=preferred_starts is None
        )
        lanes: dict[int, int] = {}
        shifts: dict[tuple[int, dt.time], tuple[dt.time, dt.time, int]] = {}
        if preferred_starts is None:
            preferred_starts = _starts_of(entries)
            lanes = {int(e["chair_id"]): int(e["lane"]) for e in entries if e.get("lane") is not None}
            shifts = template_start_shifts(entries)
        return Placement(
            policy=site.placement_policy,
            preferred_starts=preferred_starts,
            day_starts=plans,
            day_nurses=plan_nurses,
            template_opening=template_opening,
            chair_lanes=lanes,
            start_shifts=shifts,
            habits=_habits_of(habit_rows, site),
            shortest_sessions=(
                None if shortest is None else {chair_id: dt.timedelta(minutes=m) for chair_id, m in shortest.items()}
            ),
        )
    return Placement(policy=EARLIEST)


@dataclass(frozen=True)
class ResumeDays:
    """When a paused plan may resume, by the protocol's spacing from the last session held."""

    last_held: dt.date | None
    earliest: dt.date | None  # the first day the protocol's minimum spacing allows
    min_days: int
    suggested: dt.date | None  # the plan's own rhythm: the interval after the last session


def resume_days(plan: TreatmentPlan, *, phase: str | None = None) -> ResumeDays:
    """How far from its last session held the paused plan may resume, spaced as `phase` (the plan's
    own by default; maintenance for a resume that enters it). The last session's day is the one it
    was held on at its own site: a course may be booked at a site in another zone than the plan's."""
    last = (
        plan.appointments.filter(status=AppointmentStatus.COMPLETED)
        .order_by("-starts_at")
        .select_related("site")
        .only("starts_at", "site__time_zone")
        .first()
    )
    if (phase or plan.phase) == Phase.MAINTENANCE:
        rule = maintenance_rule(plan)
        min_days, rhythm = rule.min_days, rule.interval_days
    else:
        min_days = -(-plan.protocol.min_gap_hours // 24)  # hours, rounded up to whole days
        rhythm = min_days
    if last is None:
        return ResumeDays(last_held=None, earliest=None, min_days=min_days, suggested=None)
    day = last.starts_at.astimezone(last.site.zone).date()
    return ResumeDays(
        last_held=day,
        earliest=day + dt.timedelta(days=min_days),
        min_days=min_days,
        suggested=day + dt.timedelta(days=rhythm),
    )
