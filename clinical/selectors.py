"""Reads of the session record that span tables."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from clinic.models import MAX_SHIFT_LENGTH, Chair, Closure, Role, Shift, Site, StaffMember
from clinic.permissions import may_see_field
from clinic.spreadsheet import csv_text
from clinical.models import Administration, ControlledSubstanceEntry, Recovery, SideEffect, StartClearance, VitalSigns
from clinical.services import NO_PRE_VITALS, completion_missing, start_hold_reasons, thresholds_for
from scheduling.engine.model import NurseWork
from scheduling.engine.wallclock import day_bounds, opening_instant
from scheduling.models import BLOCKING_STATUSES, Appointment, Protocol


def reversed_days(first: dt.date | None, last: dt.date | None) -> str | None:
    """What is wrong with a log's day range that ends before it begins (the page, its CSV and the
    API refuse it alike: an empty register read as "nothing given" would mislead), or None."""
    if first is not None and last is not None and first > last:
        return f"From ({first:%-d %b %Y}) is after To ({last:%-d %b %Y}): choose a From day on or before the To day."
    return None


def controlled_substance_log(
    *, date_from: dt.date | None = None, date_to: dt.date | None = None, site: Site | None = None
) -> QuerySet[ControlledSubstanceEntry]:
    """Log entries recorded between two days (inclusive), each in its own site's local days, as
    every other page counts days (a 21:30 entry in New York belongs to that evening's day).
    Each carries `corrected_by_id`: the line that corrects it (None while it stands), read in the
    same query, whatever day that line was written on, so a superseded amount is never added up."""
    corrected_by = ControlledSubstanceEntry.objects.filter(corrects=OuterRef("pk")).order_by("pk").values("pk")[:1]
    entries = (
        ControlledSubstanceEntry.objects.select_related(
            "patient", "site", "given_by__user", "recorded_by", "appointment"
        )
        .annotate(corrected_by_id=Subquery(corrected_by))
        .order_by("pk")  # the order entries were written in: an append-only register's own order
    )
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
    "corrected_by",
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


# What the register shows, in place of a line's reason, to a role that may not read it
# (clinic.permissions.FIELD_READERS["cs_entry"]): the audit still sees that one was recorded.
REASON_WITHHELD = "reason recorded (clinicians only)"


def reads_log_reasons(role: str | None) -> bool:
    """Whether `role` reads the clinical text of a log line's reason (the page, CSV and API alike)."""
    return may_see_field(role, "cs_entry", "reason")


def shown_reason(entry: ControlledSubstanceEntry, *, role: str | None) -> str:
    """A line's reason as `role` may read it: the text, REASON_WITHHELD, or "" for none."""
    if not entry.reason or reads_log_reasons(role):
        return entry.reason
    return REASON_WITHHELD


def controlled_substance_csv(entries: Iterable[ControlledSubstanceEntry], *, role: str | None) -> str:
    """`entries` as `controlled_substance_log` reads them (with `corrected_by_id`), for `role`: a
    line's reason is written only for the roles that read it (shown_reason)."""
    rows = (
        [
            e.pk,
            e.corrects_id or "",
            e.corrected_by_id or "",  # type: ignore[attr-defined]
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
            shown_reason(e, role=role),
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

    @property
    def clearable(self) -> bool:
        """Held by this visit's readings, which a prescriber may accept; not held for want of them
        (after an undone check-in, the earlier visit's readings do not count)."""
        return bool(self.start_held_for) and NO_PRE_VITALS not in self.start_held_for


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


# --- Capacity: how full chairs and nurses were, setups, waits and overtime (the capacity page) ---

SETUP_BIN_MINUTES = 15
_PROTOCOL_DEFAULTS = {
    name: Protocol._meta.get_field(name).get_default()
    for name in ("nurse_setup_minutes", "nurse_check_offsets_minutes", "nurse_check_minutes", "nurse_discharge_minutes")
}


@dataclass(frozen=True)
class CapacityWindow:
    label: str
    first_day: dt.date
    last_day: dt.date  # inclusive


@dataclass
class CapacityPeriod:
    window: CapacityWindow
    open_days: int = 0
    open_dates: list[dt.date] = field(default_factory=list)  # the open days, in order
    sessions: int = 0
    chair_utilisation: list[float | None] = field(default_factory=list)  # per hour of `CapacityReport.hours`
    nurse_utilisation: list[float | None] = field(default_factory=list)
    setups_mean: list[float] = field(default_factory=list)  # per bin of `CapacityReport.setup_bins`, per open day
    setups_peak: list[int] = field(default_factory=list)  # the busiest day's count in each bin
    waits_minutes: list[float] = field(default_factory=list)  # check-in to infusion start, one per session
    # Past the day's real closing (the end of its last open span: an early closing counts), summed
    # over the sessions, each from its start or the closing, whichever is later, to its real end.
    overtime_minutes: int = 0
    overtime_sessions: int = 0
    overtime_days: int = 0

    @property
    def peak_setups(self) -> int:
        return max(self.setups_peak, default=0)

    @property
    def sessions_per_open_day(self) -> float:
        return self.sessions / self.open_days if self.open_days else 0.0

    @property
    def overtime_per_open_day(self) -> float:
        return self.overtime_minutes / self.open_days if self.open_days else 0.0

    @property
    def waits_median(self) -> float | None:
        return self.wait_percentile(0.5)

    @property
    def waits_p90(self) -> float | None:
        return self.wait_percentile(0.9)

    def wait_percentile(self, share: float) -> float | None:
        """Interpolated between the two nearest waits, as the chart's box plot draws it."""
        if not self.waits_minutes:
            return None
        if len(self.waits_minutes) == 1:
            return float(self.waits_minutes[0])
        return statistics.quantiles(self.waits_minutes, n=100, method="inclusive")[round(share * 100) - 1]


@dataclass
class CapacityReport:
    site: Site
    chairs: int
    hours: list[int]  # local hours of the day shown
    setup_bins: list[int]  # bin starts, minutes since local midnight
    periods: list[CapacityPeriod]


Interval = tuple[dt.datetime, dt.datetime]


def _real_hours(day: dt.date, zone: Any, hours: list[int]) -> list[tuple[int, dt.datetime, dt.datetime]]:
    """The hours that really happen on `day`, as (index into `hours`, start, end) in UTC: 25 on the
    night the clocks go back (01:00 twice, both on the 01:00 row), 23 when they go forward (no 02:00)."""
    start, end = (bound.astimezone(dt.UTC) for bound in day_bounds(day, zone))
    rows = {hour: index for index, hour in enumerate(hours)}
    bins: list[tuple[int, dt.datetime, dt.datetime]] = []
    # In quarter hours of real time (every zone's offset is a whole number of them), each run of
    # one wall-clock hour is a bin: after a half-hour change (Lord Howe) an hour still begins at :00.
    step = dt.timedelta(minutes=15)
    runs: list[tuple[tuple[int, dt.timedelta | None], dt.datetime, dt.datetime]] = []
    while start < end:
        local = start.astimezone(zone)
        key = (local.hour, local.utcoffset())
        following = min(start + step, end)
        if runs and runs[-1][0] == key:
            runs[-1] = (key, runs[-1][1], following)
        else:
            runs.append((key, start, following))
        start = following
    for (hour, _), first, last in runs:
        index = rows.get(hour)
        if index is not None:
            bins.append((index, first, last))
    return bins


def _minutes_by_hour(
    spans: Iterable[Interval], bins: list[tuple[int, dt.datetime, dt.datetime]], size: int
) -> list[int]:
    """Elapsed minutes of `spans` in each row of the hours (real time, not the wall clock)."""
    totals = [0.0] * size
    for first, last in spans:
        for index, start, end in bins:
            overlap = (min(last, end) - max(first, start)).total_seconds()
            if overlap > 0:
                totals[index] += overlap / 60
    return [round(total) for total in totals]


def _without(span: Interval, holes: Iterable[Interval]) -> list[Interval]:
    """`span` less every hole (closures, which may overlap or touch)."""
    pieces = [span]
    for hole_start, hole_end in holes:
        pieces = [
            piece
            for first, last in pieces
            for piece in ((first, min(last, hole_start)), (max(first, hole_end), last))
            if piece[0] < piece[1]
        ]
    return pieces


def _clipped(span: Interval, to: Iterable[Interval]) -> list[Interval]:
    return [(max(span[0], a), min(span[1], b)) for a, b in to if max(span[0], a) < min(span[1], b)]


def first_session_day(*, site: Site) -> dt.date | None:
    """The local day of the site's first session that held a chair (None before any)."""
    first = (
        Appointment.objects.filter(site=site, status__in=[s.value for s in BLOCKING_STATUSES])
        .order_by("starts_at")
        .values_list("starts_at", flat=True)
        .first()
    )
    return None if first is None else first.astimezone(site.zone).date()


def capacity_report(*, site: Site, windows: Sequence[CapacityWindow], now: dt.datetime) -> CapacityReport:
    """Chair and nurse use by hour of day, nurse setups per 15 minutes, waits from check-in to the
    infusion's start and minutes past closing, for each window of local days. Five queries whatever
    the number of sessions: opening hours, chairs, closures, nurse shifts and the sessions with their
    protocol's nurse minutes, administration and discharge.

    Chair use is of each chair's open time: the day's opening less the site's closures and that
    chair's own. A session's time outside its chair's open time (booked before a closure was made,
    or run late) is no chair use, so use never passes 100 %; the part past the day's real closing
    (the end of its last open span) is overtime. The rest, in a closure the site opened again after
    (its chair's own, a break) or before opening, is counted in neither: the desk has a session to
    move, not a busier chair. A day with no open time is no open day and has no closing to run past.
    `now` decides which shifts of a nurse who has left count (those she worked, as on the board)."""
    zone = site.zone
    opening = {row.weekday: (row.opens_at, row.closes_at) for row in site.opening_hours.all()}
    active_chairs = set(Chair.objects.filter(site=site, active=True).values_list("pk", flat=True))
    start = day_bounds(min(w.first_day for w in windows), zone)[0]
    end = day_bounds(max(w.last_day for w in windows), zone)[1]
    closures: list[Interval] = []
    # A chair out of use for a while (its own closure) takes that chair's hours out, not the site's.
    chair_closed: dict[int, list[Interval]] = defaultdict(list)
    for chair_id, closed_from, closed_until in Closure.objects.filter(
        Q(site=site) | Q(site__isnull=True), starts_at__lt=end, ends_at__gt=start
    ).values_list("chair_id", "starts_at", "ends_at"):
        (closures if chair_id is None else chair_closed[chair_id]).append((closed_from, closed_until))
    # As the board counts them: a nurse since made inactive or taken off the site's staff keeps the
    # shifts she has worked, none to come (booking and the day template give her none of that time).
    works_here = StaffMember.sites.through.objects.filter(staffmember_id=OuterRef("staff_id"), site_id=site.pk)
    shifts = list(
        Shift.objects.filter(
            site=site,
            staff__role=Role.NURSE,
            starts_at__lt=end,
            starts_at__gt=start - MAX_SHIFT_LENGTH,
            ends_at__gt=start,
        )
        .filter(Q(ends_at__lte=now) | (Q(staff__active=True) & (Q(staff__all_sites=True) | Exists(works_here))))
        .values_list("starts_at", "ends_at")
    )
    sessions = list(
        Appointment.objects.filter(
            site=site,
            status__in=[s.value for s in BLOCKING_STATUSES],
            starts_at__gte=start,
            starts_at__lt=end,
        ).values(
            "starts_at",
            "ends_at",
            "chair_id",
            "status",
            "checked_in_at",
            "completed_at",
            "plan__protocol__nurse_setup_minutes",
            "plan__protocol__nurse_check_offsets_minutes",
            "plan__protocol__nurse_check_minutes",
            "plan__protocol__nurse_discharge_minutes",
            "administration__started_at",
            "recovery__discharged_at",
        )
    )

    def minutes(clock: dt.time) -> int:
        return clock.hour * 60 + clock.minute

    opens = [minutes(o) for o, _ in opening.values()] or [8 * 60]
    closes = [minutes(c) for _, c in opening.values()] or [18 * 60]
    # One hour past the latest closing, so overtime shows on the charts.
    hours = list(range(min(opens) // 60, min(24, -(-max(closes) // 60) + 1)))
    setup_bins = list(range(hours[0] * 60, (hours[-1] + 1) * 60, SETUP_BIN_MINUTES))
    by_day: dict[dt.date, list[dict[str, Any]]] = defaultdict(list)
    for session in sessions:
        by_day[session["starts_at"].astimezone(zone).date()].append(session)

    def add(totals: list[int], more: list[int]) -> None:
        for index, value in enumerate(more):
            totals[index] += value

    periods = []
    for window in windows:
        period = CapacityPeriod(window=window)
        chair_busy, chair_open = [0] * len(hours), [0] * len(hours)
        hands_on, on_shift = [0] * len(hours), [0] * len(hours)
        # Per open day: the setups in each 15 minutes of the wall clock, the repeated hour's second
        # occurrence (the night the clocks go back) in a row of its own.
        setups_by_day: list[tuple[list[int], list[int]]] = []
        days = [window.first_day + dt.timedelta(days=n) for n in range((window.last_day - window.first_day).days + 1)]
        # The chairs the site had then: today's, and any retired since that held a session in the
        # window (the model keeps no date a chair was retired; one retired unused is not counted).
        counted = active_chairs | {s["chair_id"] for day in days for s in by_day.get(day, ())}
        chairs = len(counted)
        for day in days:
            day_start, day_end = day_bounds(day, zone)
            bins = _real_hours(day, zone, hours)
            today = opening.get(day.weekday())
            # The day's opening less its closures (whole-day, partial, or several back to back).
            open_spans: list[Interval] = []
            if today is not None:
                # As booking reads them: a time the clocks skip is the moment they jump.
                opens_at, closes_at = (opening_instant(day, clock, zone) for clock in today)
                open_spans = _without((opens_at, closes_at), closures)
            # The real closing that day: an early closing (a closure to the end of the day) moves it.
            closed_at = max((last for _, last in open_spans), default=None)
            # A chair out of use for a while has the day's open spans less its own closures.
            chair_spans = {
                chair_id: [piece for span in open_spans for piece in _without(span, holes)]
                for chair_id, holes in chair_closed.items()
            }
            setups_today: tuple[list[int], list[int]] | None = None
            if open_spans:
                period.open_days += 1
                period.open_dates.append(day)
                open_minutes = _minutes_by_hour(open_spans, bins, len(hours))
                chair_minutes = [chairs * m for m in open_minutes]
                for chair_id, left in chair_spans.items():
                    if chair_id in counted:
                        still = _minutes_by_hour(left, bins, len(hours))
                        chair_minutes = [
                            t - (m - k) for t, m, k in zip(chair_minutes, open_minutes, still, strict=True)
                        ]
                add(chair_open, chair_minutes)
                setups_today = ([0] * len(setup_bins), [0] * len(setup_bins))
                setups_by_day.append(setups_today)
            add(
                on_shift,
                _minutes_by_hour(
                    [
                        (max(shift_start, day_start), min(shift_end, day_end))
                        for shift_start, shift_end in shifts
                        if shift_start < day_end and shift_end > day_start
                    ],
                    bins,
                    len(hours),
                ),
            )
            overtime_today = False
            for session in by_day.get(day, ()):
                period.sessions += 1
                nurse = {
                    name: session[f"plan__protocol__{name}"]
                    if session[f"plan__protocol__{name}"] is not None
                    else default
                    for name, default in _PROTOCOL_DEFAULTS.items()
                }
                work = NurseWork(
                    setup_minutes=nurse["nurse_setup_minutes"],
                    check_offsets_minutes=tuple(nurse["nurse_check_offsets_minutes"]),
                    check_minutes=nurse["nurse_check_minutes"],
                    discharge_minutes=nurse["nurse_discharge_minutes"],
                )
                # Chair use is of its chair's open time, never over 100 %: the time past the real
                # closing shows as overtime below, the rest outside it nowhere (see the docstring).
                span = (session["starts_at"], session["ends_at"])
                add(
                    chair_busy,
                    _minutes_by_hour(
                        _clipped(span, chair_spans.get(session["chair_id"], open_spans)), bins, len(hours)
                    ),
                )
                # As booking lays the work out (overlapping pieces once, each inside the session).
                pieces = work.hands_on(session["starts_at"], session["ends_at"])
                add(hands_on, _minutes_by_hour([(p.start, p.end) for p in pieces], bins, len(hours)))
                local_start = session["starts_at"].astimezone(zone)
                slot = (minutes(local_start.time()) - setup_bins[0]) // SETUP_BIN_MINUTES
                if setups_today is not None and local_start.date() == day and 0 <= slot < len(setup_bins):
                    setups_today[local_start.fold][slot] += 1
                checked_in, infusion = session["checked_in_at"], session["administration__started_at"]
                if checked_in is not None and infusion is not None and infusion >= checked_in:
                    period.waits_minutes.append((infusion - checked_in).total_seconds() / 60)
                if closed_at is not None:
                    # The real end when the session record has it, else the booked one; a session
                    # begun after the closing (booked before an early closing was made) from its start.
                    ended = session["recovery__discharged_at"] or session["completed_at"] or session["ends_at"]
                    past = int((ended - max(closed_at, session["starts_at"])).total_seconds() // 60)
                    if past > 0:
                        period.overtime_minutes += past
                        period.overtime_sessions += 1
                        overtime_today = True
            period.overtime_days += overtime_today
        period.chair_utilisation = [b / r if r else None for b, r in zip(chair_busy, chair_open, strict=True)]
        period.nurse_utilisation = [w / r if r else None for w, r in zip(hands_on, on_shift, strict=True)]
        days = len(setups_by_day)
        period.setups_mean = [
            sum(first[i] + second[i] for first, second in setups_by_day) / days if days else 0.0
            for i in range(len(setup_bins))
        ]
        period.setups_peak = [
            max((max(first[i], second[i]) for first, second in setups_by_day), default=0)
            for i in range(len(setup_bins))
        ]
        periods.append(period)
    return CapacityReport(site=site, chairs=len(active_chairs), hours=hours, setup_bins=setup_bins, periods=periods)
