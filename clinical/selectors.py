"""Reads of the session record that span tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from clinic.models import Site
from clinic.spreadsheet import csv_text
from clinical.models import Administration, ControlledSubstanceEntry, Recovery, SideEffect, StartClearance, VitalSigns
from clinical.services import completion_missing, start_hold_reasons, thresholds_for
from scheduling.engine.wallclock import day_bounds
from scheduling.models import Appointment


def controlled_substance_log(
    *, date_from: dt.date | None = None, date_to: dt.date | None = None, site: Site | None = None
) -> QuerySet[ControlledSubstanceEntry]:
    """Log entries recorded between two days (inclusive), each in its own site's local days, as
    every other page counts days (a 21:30 entry in New York belongs to that evening's day)."""
    entries = ControlledSubstanceEntry.objects.select_related(
        "patient", "site", "given_by__user", "recorded_by", "appointment"
    ).order_by("pk")  # the order entries were written in: an append-only register's own order
    if site is not None:
        entries = entries.filter(site=site)
    if date_from is None and date_to is None:
        return entries
    sites = [site] if site is not None else list(Site.objects.only("pk", "time_zone"))
    in_days = Q(pk__in=[])
    for each in sites:
        condition = Q(site=each)
        if date_from is not None:
            condition &= Q(recorded_at__gte=day_bounds(date_from, each.zone)[0])
        if date_to is not None:
            condition &= Q(recorded_at__lt=day_bounds(date_to, each.zone)[1])
        in_days |= condition
    return entries.filter(in_days)


CSV_COLUMNS = [
    "entry",
    "corrects",
    "recorded_at_utc",
    "administered_at_utc",
    "site",
    "patient",
    "date_of_birth",
    "substance",
    "route",
    "total_mg",
    "lot_number",
    "given_by",
    "recorded_by",
    "reason",
]


def controlled_substance_csv(entries: Iterable[ControlledSubstanceEntry]) -> str:
    rows = (
        [
            e.pk,
            e.corrects_id or "",
            e.recorded_at.astimezone(dt.UTC).isoformat(),
            e.administered_at.astimezone(dt.UTC).isoformat(),
            e.site.name,
            e.patient.full_name,
            e.patient.date_of_birth.isoformat(),
            e.substance,
            e.route,
            f"{e.total_mg}",
            e.lot_number,
            e.given_by.display_name,
            e.recorded_by.get_full_name() or e.recorded_by.get_username(),
            e.reason,
        ]
        for e in entries
    )
    return csv_text(CSV_COLUMNS, rows)


@dataclass
class SessionRecord:
    appointment: Appointment
    vitals: list[VitalSigns]
    clearances: list[StartClearance]
    administration: Administration | None
    recovery: Recovery | None
    log: list[ControlledSubstanceEntry]
    start_held_for: list[str]
    completion_missing: list[str]
    side_effect_choices: list[SideEffect]


def session_record(*, appointment: Appointment) -> SessionRecord:
    """Everything the session page and the API show about one session's clinical record."""
    thresholds_for(site=appointment.site)
    administration = (
        Administration.objects.select_related("given_by__user", "recorded_by").filter(appointment=appointment).first()
    )
    recovery = Recovery.objects.prefetch_related("side_effects").filter(appointment=appointment).first()
    return SessionRecord(
        appointment=appointment,
        vitals=list(appointment.vital_signs.select_related("recorded_by").order_by("recorded_at", "pk")),
        clearances=list(appointment.start_clearances.select_related("prescriber__user").order_by("cleared_at", "pk")),
        administration=administration,
        recovery=recovery,
        log=list(administration.log_entries.order_by("pk")) if administration else [],
        start_held_for=start_hold_reasons(appointment=appointment),
        completion_missing=completion_missing(appointment=appointment),
        side_effect_choices=list(SideEffect.objects.filter(active=True)),
    )
