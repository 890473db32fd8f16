"""Every write to the session record, and the two gates the appointment services call:
`require_start_allowed` (pre-infusion vitals) and `require_complete_allowed` (the record
is whole). Services take keyword-only arguments, run in one transaction, lock the
appointment so a reading and a start cannot pass each other, and take `now` from the caller.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet

from clinic.models import CLINICIAN_ROLES, Role, Route, Site, StaffMember
from clinic.permissions import is_prescriber, works_at
from clinical.errors import SessionRecordIncomplete, ShortInfusion, StartHeld
from clinical.models import (
    Administration,
    ControlledSubstanceEntry,
    Recovery,
    SideEffect,
    StartClearance,
    VitalSigns,
    VitalsPhase,
    VitalsThresholds,
)
from patients.models import SCREENING_PLAUSIBLE
from scheduling.errors import InvalidInput, InvalidState
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import appointment_start

ARRIVED = (AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_CHAIR)
NO_PRE_VITALS = "Record pre-infusion vitals first"
# How a prescriber's discharge over out-of-range recovery vitals begins its history change reason.
DISCHARGED_OVER_VITALS = "Discharged by a prescriber over recovery vitals outside the clinic's limits"
# Weight-based routes: the total must match dose × weight (esketamine spray is a fixed dose).
WEIGHT_BASED_ROUTES = (Route.IV, Route.IM)
DOSE_TOLERANCE = Decimal("0.05")
# How the refusal and the form's help state it: "5 %".
DOSE_TOLERANCE_WORDS = f"{(DOSE_TOLERANCE * 100).normalize():f} %"

# Readings a person could have; the database holds the same ranges as check constraints.
# A living, seated adult's readings (the VitalSigns constraints hold the same); the screening at the
# evaluation takes the same ranges, so one place states them for both.
PLAUSIBLE = {
    "systolic": SCREENING_PLAUSIBLE["systolic_bp"],
    "diastolic": SCREENING_PLAUSIBLE["diastolic_bp"],
    "heart_rate": SCREENING_PLAUSIBLE["heart_rate"],
    "spo2": (50, 100),
}
LABELS = {
    "systolic": "Systolic pressure",
    "diastolic": "Diastolic pressure",
    "heart_rate": "Heart rate",
    "spo2": "SpO2",
}


def _lock(appointment: Appointment) -> Appointment:
    # Its own row and its patient's: not its site's, which would queue every recording at the site.
    return (
        Appointment.objects.select_for_update(of=("self", "patient"))
        .select_related("site", "patient")
        .get(pk=appointment.pk)
    )


def _require_arrived(appointment: Appointment, action: str, allowed: Sequence[str] = ARRIVED) -> None:
    if appointment.status not in allowed:
        raise InvalidState(
            f"Cannot {action}: the session is {appointment.get_status_display().lower()}.",
            details={"status": appointment.status},
        )


def _require_clinician(
    staff: StaffMember | None, action: str, roles: frozenset[str] = CLINICIAN_ROLES, *, field: str | None = None
) -> StaffMember:
    if staff is None or not staff.active or staff.role not in roles:
        names = " or ".join(sorted(Role(r).label.lower() for r in roles))
        raise InvalidInput(f"Only an active {names} may {action}.", details={"field": field} if field else None)
    return staff


# --- Thresholds and the start gate --------------------------------------------------


def thresholds_for(*, site: Site) -> VitalsThresholds:
    """The site's limits, created with the clinical defaults the first time they are needed."""
    thresholds, _ = VitalsThresholds.objects.get_or_create(site=site)
    return thresholds


def vitals_problems(vitals: VitalSigns, thresholds: VitalsThresholds) -> list[str]:
    """Why these readings are outside the clinic's limits, in words a nurse reads at the chair."""
    problems = []
    pressure = f"{vitals.systolic}/{vitals.diastolic}"
    if vitals.systolic > thresholds.systolic_max:
        problems.append(f"Blood pressure {pressure} is above the clinic's limit of {thresholds.systolic_max} systolic")
    if vitals.diastolic > thresholds.diastolic_max:
        problems.append(
            f"Blood pressure {pressure} is above the clinic's limit of {thresholds.diastolic_max} diastolic"
        )
    if vitals.heart_rate > thresholds.heart_rate_max:
        problems.append(f"Heart rate {vitals.heart_rate} is above the clinic's limit of {thresholds.heart_rate_max}")
    if vitals.spo2 < thresholds.spo2_min:
        problems.append(f"SpO2 {vitals.spo2}% is below the clinic's limit of {thresholds.spo2_min}%")
    return problems


def latest_vitals(appointment: Appointment, phase: str) -> VitalSigns | None:
    return appointment.vital_signs.filter(phase=phase).order_by("-recorded_at", "-pk").first()


def _pre_vitals_this_visit(appointment: Appointment) -> QuerySet[VitalSigns]:
    """Pre-infusion readings taken since the session's check-in: a visit whose check-in was undone
    (the patient unwell, the session moved) left readings that say nothing about today."""
    readings = appointment.vital_signs.filter(phase=VitalsPhase.PRE)
    if appointment.checked_in_at is not None:
        readings = readings.filter(recorded_at__gte=appointment.checked_in_at)
    return readings


def start_hold_reasons(*, appointment: Appointment, at: dt.datetime | None = None) -> list[str]:
    """Why the session may not start now (or at `at`, when it started earlier: an administration
    recorded after the chair step was skipped); empty when it may. The latest pre-infusion reading of
    this visit taken by then counts (to the minute, as the forms take times); a prescriber's
    clearance covers readings taken up to the moment it was given."""
    readings = _pre_vitals_this_visit(appointment)
    clearances = appointment.start_clearances.all()
    if at is not None:
        next_minute = at.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        readings = readings.filter(recorded_at__lt=next_minute)
        clearances = clearances.filter(cleared_at__lt=next_minute)
    pre = readings.order_by("-recorded_at", "-pk").first()
    if pre is None:
        return [NO_PRE_VITALS]
    problems = vitals_problems(pre, thresholds_for(site=appointment.site))
    if not problems:
        return []
    cleared = clearances.filter(cleared_at__gte=pre.recorded_at).exists()
    return [] if cleared else problems


def require_start_allowed(*, appointment: Appointment, now: dt.datetime) -> None:
    """The gate `appointment_start` calls before moving a session to the chair."""
    current = _lock(appointment)
    if current.status != AppointmentStatus.CHECKED_IN:
        return  # a retry of a started session, or a wrong state the transition itself refuses
    # Judged as of `now`: the moment the patient sat down (the infusion's start, when the
    # administration is recorded later with the chair step skipped), not readings taken since.
    reasons = start_hold_reasons(appointment=current, at=now)
    if reasons:
        raise StartHeld(reasons)


def _latest_recovery_vitals(appointment: Appointment, administration: Administration | None) -> VitalSigns | None:
    """The latest recovery (post-infusion) reading taken after the administration ended."""
    readings = appointment.vital_signs.filter(phase=VitalsPhase.RECOVERY)
    if administration is not None:
        readings = readings.filter(recorded_at__gte=administration.ended_at)
    return readings.order_by("-recorded_at", "-pk").first()


def _discharged_over(recovery: Recovery) -> bool:
    """Whether the recovery's latest recording was a prescriber's discharge over out-of-range vitals."""
    latest = recovery.history.order_by("-history_date", "-history_id").first()
    return latest is not None and (latest.history_change_reason or "").startswith(DISCHARGED_OVER_VITALS)


def completion_missing(*, appointment: Appointment) -> list[str]:
    missing = []
    administration = Administration.objects.filter(appointment=appointment).first()
    if administration is None:
        missing.append("record the administration (dose, lot number, who gave it)")
    reading = _latest_recovery_vitals(appointment, administration)
    if reading is None:
        missing.append("record recovery vitals")
    recovery = Recovery.objects.filter(appointment=appointment).first()
    if recovery is None:
        missing.append("record the discharge time and who drives the patient home")
    elif reading is not None:
        # The discharge is the last word: the reading it was recorded over is the one that counts,
        # and a reading taken after it must be answered by recording the discharge again.
        if reading.recorded_at > recovery.recorded_at:
            missing.append("record the discharge again: recovery vitals were recorded after the discharge")
        elif vitals_problems(reading, thresholds_for(site=appointment.site)) and not _discharged_over(recovery):
            missing.append(
                "re-measure the recovery vitals (outside the clinic's limits) and record the discharge again; "
                "a prescriber may discharge over them with a reason"
            )
    return missing


def require_complete_allowed(*, appointment: Appointment, now: dt.datetime) -> None:
    """The gate `appointment_complete` calls: a session is complete only when its record is."""
    current = _lock(appointment)
    if current.status not in ARRIVED:
        return
    missing = completion_missing(appointment=current)
    if missing:
        raise SessionRecordIncomplete(missing)


def require_release_allowed(*, appointment: Appointment) -> None:
    """The gate before a checked-in session is cancelled or its check-in undone: not once the
    ketamine is recorded as given (the controlled-substance log names this session, and the
    course counts it as held). The session is completed, or the record corrected, instead."""
    if Administration.objects.filter(appointment_id=appointment.pk).exists():
        raise InvalidState(
            "The ketamine of this session is recorded as given: it cannot be cancelled or its check-in "
            "undone. Complete the session once its recovery and discharge are recorded."
        )


# --- Writes --------------------------------------------------------------------------


@transaction.atomic
def vitals_record(
    *,
    appointment: Appointment,
    phase: str,
    systolic: int,
    diastolic: int,
    heart_rate: int,
    spo2: int,
    actor: AbstractBaseUser,
    now: dt.datetime,
) -> VitalSigns:
    appointment = _lock(appointment)
    if phase not in VitalsPhase.values:
        raise InvalidInput(f"Phase must be one of {', '.join(VitalsPhase.values)}.")
    allowed = (AppointmentStatus.CHECKED_IN,) if phase == VitalsPhase.PRE else ARRIVED
    _require_arrived(appointment, f"record {VitalsPhase(phase).label.lower()} vitals", allowed)
    readings = {"systolic": systolic, "diastolic": diastolic, "heart_rate": heart_rate, "spo2": spo2}
    for name, value in readings.items():
        low, high = PLAUSIBLE[name]
        if not low <= value <= high:
            raise InvalidInput(
                f"{LABELS[name]} {value} is not plausible; expected {low}–{high}.", details={"field": name}
            )
    if diastolic >= systolic:
        raise InvalidInput(f"Diastolic {diastolic} must be below systolic {systolic}.", details={"field": "diastolic"})
    if phase == VitalsPhase.RECOVERY:
        _require_administration(appointment, "recovery vitals follow it")
    return VitalSigns.objects.create(
        appointment=appointment, phase=phase, recorded_by=actor, recorded_at=now, **readings
    )


@transaction.atomic
def start_clear(
    *, appointment: Appointment, prescriber: StaffMember | None, reason: str, now: dt.datetime
) -> StartClearance:
    """A prescriber accepts the pre-infusion readings that hold the start, with a reason."""
    _require_clinician(prescriber, "clear a held start", frozenset({Role.PRESCRIBER}))
    appointment = _lock(appointment)
    _require_arrived(appointment, "clear the start", (AppointmentStatus.CHECKED_IN,))
    if not reason.strip():
        raise InvalidInput("Give a reason for clearing the start.")
    reasons = start_hold_reasons(appointment=appointment)
    if reasons == [NO_PRE_VITALS]:
        raise InvalidState("Record pre-infusion vitals first; a clearance answers readings, not their absence.")
    if not reasons:
        raise InvalidState("The start is not held: nothing to clear.")
    return StartClearance.objects.create(
        appointment=appointment,
        prescriber=prescriber,
        reason=reason.strip(),
        held_for="; ".join(reasons),
        cleared_at=now,
    )


def _check_dose(*, route: str, dose_mg_per_kg: Decimal, weight_kg: Decimal, total_mg: Decimal) -> None:
    if route not in Route.values:
        raise InvalidInput(f"Route must be one of {', '.join(Route.values)}.", details={"field": "route"})
    if not Decimal(0) < dose_mg_per_kg <= Decimal(5):
        raise InvalidInput(
            f"A dose of {dose_mg_per_kg} mg/kg is not plausible; expected above 0 and at most 5.",
            details={"field": "dose_mg_per_kg"},
        )
    if not Decimal(20) <= weight_kg <= Decimal(400):
        raise InvalidInput(
            f"A weight of {weight_kg} kg is not plausible; expected 20–400.", details={"field": "weight_kg"}
        )
    if not Decimal(0) < total_mg <= Decimal(1000):
        raise InvalidInput(
            f"A total of {total_mg} mg is not plausible; expected above 0 and at most 1000.",
            details={"field": "total_mg"},
        )
    if route in WEIGHT_BASED_ROUTES:
        expected = dose_mg_per_kg * weight_kg
        if abs(total_mg - expected) > expected * DOSE_TOLERANCE:
            low, high = expected * (1 - DOSE_TOLERANCE), expected * (1 + DOSE_TOLERANCE)
            raise InvalidInput(
                f"Total {total_mg} mg does not match {dose_mg_per_kg} mg/kg × {weight_kg} kg = {expected:.1f} mg "
                f"within {DOSE_TOLERANCE_WORDS} ({low:.2f}–{high:.2f} mg).",
                details={"field": "total_mg", "expected_total_mg": f"{expected:.2f}"},
            )


def _booked_route(appointment: Appointment) -> tuple[str, str] | None:
    """The route the session was booked for and where it comes from, or None for a single session
    booked before sessions kept their route: `session_route` only guesses that one from its chair."""
    plan = appointment.plan
    if plan is not None:
        return plan.protocol.route, "its protocol's route"
    if appointment.route:
        return appointment.route, "the route it was booked for"
    return None


def _route_deviation(
    appointment: Appointment, route: str, *, actor: AbstractBaseUser, reason: str, correcting: bool = False
) -> str:
    """The ketamine is given by the route the session was booked for: the chair was equipped for
    it, and the weight-based dose check follows the route. When it really was given another way on
    a prescriber's order (an IV line could not be placed, IM was ordered), the register must still
    state the truth: a prescriber records that route with the reason, and this returns what the
    register's line says of the deviation. Empty when the route is the session's."""
    booked = _booked_route(appointment)
    if booked is None or route not in Route.values or route == booked[0]:
        return ""  # an unknown route is refused by `_check_dose`, as it was before
    booked_route, source = booked
    booked_label, given_label = Route(booked_route).label, Route(route).label
    reason = reason.strip()
    if is_prescriber(actor) and reason:
        return f"Given by {given_label} instead of the session's {booked_label}: {reason}"
    if correcting:
        # A correction always has its reason: only who corrects is missing.
        raise InvalidInput(
            f"This session is booked for {booked_label} ({source}); the register must state that route, not "
            f"{given_label}. If it was given by {given_label} on a prescriber's order, a prescriber corrects the "
            f"route, with the reason.",
            details={"field": "route"},
        )
    if is_prescriber(actor):
        raise InvalidInput(
            f"This session is booked for {booked_label} ({source}); to record it as given by {given_label}, "
            f"give the reason for the change of route.",
            details={"field": "route_change_reason"},
        )
    raise InvalidInput(
        f"This session is booked for {booked_label} ({source}); the administration must be by that route, not "
        f"{given_label}. If it was given by {given_label} on a prescriber's order, the prescriber records the "
        f"administration with the reason for the change of route.",
        details={"field": "route"},
    )


def _route_deviates(appointment: Appointment, route: str) -> bool:
    """Whether `route` is another than the one the session was booked for (never for a session
    booked before sessions kept their route)."""
    booked = _booked_route(appointment)
    return booked is not None and route != booked[0]


def _require_prescriber_to_undo_deviation(
    appointment: Appointment, entry: ControlledSubstanceEntry, route: str, *, actor: AbstractBaseUser
) -> None:
    """A line whose route is not the session's states a prescriber's change of route (or a line
    recorded before routes were checked): only a prescriber changes its route."""
    booked = _booked_route(appointment)
    if booked is None or route == booked[0] or is_prescriber(actor):
        return
    raise InvalidInput(
        f"Entry #{entry.pk} states {Route(route).label}, not the session's {Route(booked[0]).label}: a prescriber's "
        f"change of route. Only a prescriber corrects its route.",
        details={"field": "route"},
    )


def _require_administration(appointment: Appointment, why: str) -> Administration:
    """Recovery comes after the drug was given: a discharge recorded first would make the
    administration's own times look wrong when it is recorded afterwards."""
    administration = Administration.objects.filter(appointment=appointment).first()
    if administration is None:
        raise InvalidState(f"Record the administration first: {why}.")
    return administration


def _min_monitoring() -> dt.timedelta:
    return dt.timedelta(minutes=settings.DISCHARGE_MIN_MONITORING_MINUTES)


def _monitoring_words() -> str:
    minutes = settings.DISCHARGE_MIN_MONITORING_MINUTES
    return f"{minutes} minutes of monitoring" if minutes else "a moment"


def _require_start_allowed_at(appointment: Appointment, started_at: dt.datetime) -> None:
    """The infusion may start only once the start gate was open: after a pre-infusion reading and,
    when that reading held the start, after the prescriber's clearance."""
    zone = appointment.site.zone
    # Compared at minute precision, as the form shows and takes times: a start entered in the
    # vitals' own minute (10:05 for readings taken at 10:05:40) is in order.
    next_minute = started_at.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    this_visit = _pre_vitals_this_visit(appointment)
    pre = this_visit.filter(recorded_at__lt=next_minute).order_by("-recorded_at", "-pk").first()
    if pre is None:
        first = this_visit.order_by("-recorded_at", "-pk").first()
        when = f" (taken at {first.recorded_at.astimezone(zone):%H:%M})" if first is not None else ""
        raise InvalidInput(
            f"The administration must start after the pre-infusion vitals{when}.", details={"field": "started_at"}
        )
    if vitals_problems(pre, thresholds_for(site=appointment.site)):
        clearance = appointment.start_clearances.filter(cleared_at__gte=pre.recorded_at).order_by("cleared_at").first()
        if clearance is None or clearance.cleared_at >= next_minute:
            when = f" (cleared at {clearance.cleared_at.astimezone(zone):%H:%M})" if clearance is not None else ""
            raise InvalidInput(
                f"The start was held by the pre-infusion vitals; the administration must start after the "
                f"prescriber's clearance{when}.",
                details={"field": "started_at"},
            )


def _require_may_give(given_by: StaffMember | None, site: Site) -> StaffMember:
    """Who the register names as having given the drug, when it is recorded and when corrected:
    an active clinician of the session's site."""
    given_by = _require_clinician(given_by, "give ketamine", field="given_by")
    if not works_at(given_by, site):
        raise InvalidInput(
            f"{given_by} does not work at {site.name}; name the clinician who gave it here.",
            details={"field": "given_by"},
        )
    return given_by


def _minutes_words(length: dt.timedelta) -> str:
    minutes = int(length.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _infusion_minutes(appointment: Appointment, at: dt.datetime) -> int | None:
    """The infusion minutes of the session's protocol as they were at `at`, the infusion's start: an
    admin's later edit of the protocol does not change whether an infusion given before it was short
    (a correction recorded after the edit is judged as the infusion was). When the protocol's history
    does not reach back to `at`, its oldest state. None for a session without a protocol."""
    protocol = appointment.plan.protocol if appointment.plan_id else None
    if protocol is None:
        return None
    # The history is newest first: the last state saved by `at`, else the first one saved.
    then = protocol.history.filter(history_date__lte=at).first() or protocol.history.last() or protocol
    return then.infusion_minutes or None


def _short_of(appointment: Appointment, *, route: str, started_at: dt.datetime, ended_at: dt.datetime) -> int | None:
    """The protocol's infusion minutes (at the infusion's start) that an infusion by `route` from
    `started_at` to `ended_at` lasted under half of, or None when it did not (never for a session
    without a protocol, or by another route than IV)."""
    if route != Route.IV:
        return None
    minutes = _infusion_minutes(appointment, started_at)
    return minutes if minutes is not None and (ended_at - started_at) * 2 < dt.timedelta(minutes=minutes) else None


def _infusion_short(appointment: Appointment, *, route: str, started_at: dt.datetime, ended_at: dt.datetime) -> bool:
    """Whether an infusion by `route` from `started_at` to `ended_at` lasted under half its session's
    protocol's infusion minutes at its start (`_short_of`)."""
    return _short_of(appointment, route=route, started_at=started_at, ended_at=ended_at) is not None


def _short_infusion(
    appointment: Appointment,
    *,
    route: str,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    reason: str,
    field: str,
) -> str:
    """An IV infusion recorded as lasting under half its protocol's infusion minutes (as they were at
    its start, `_infusion_minutes`) is almost always a mistyped time; one stopped early (side effects)
    is legitimate, and any clinician who records it states why. Returns what the register's line and
    the record's history say of it (empty when the length is in order, or there is nothing to check
    it against: a session without a protocol, or an injection, a spray or a tablet, which take no
    infusion's time). Without a reason, refuses on `field`, the time being given."""
    minutes = _short_of(appointment, route=route, started_at=started_at, ended_at=ended_at)
    if minutes is None:
        return ""
    lasted = ended_at - started_at
    lasted_words = _minutes_words(lasted)
    reason = reason.strip()
    if reason:
        return f"Infusion of {lasted_words}, under half the protocol's {minutes} minutes: {reason}"
    zone = appointment.site.zone
    raise ShortInfusion(
        f"The infusion is recorded as lasting {lasted_words} ({started_at.astimezone(zone):%H:%M}–"
        f"{ended_at.astimezone(zone):%H:%M}), under half the protocol's {minutes} minutes. Check the start and "
        "end times; if the infusion was stopped early, give the reason (for example, stopped early: dissociation).",
        details={"field": field, "infusion_minutes": minutes, "recorded_seconds": int(lasted.total_seconds())},
    )


# A register line's text for a short infusion (`_short_infusion`), ending the line's reason.
SHORT_INFUSION_MARK = "Infusion of "
SHORT_INFUSION_GIVEN = re.compile(r"Infusion of [^,;]+, under half the protocol's \d+ minutes: (?P<why>.+)\Z", re.S)


def _short_justification(entry: ControlledSubstanceEntry, *, appointment: Appointment, ended_at: dt.datetime) -> str:
    """Why the infusion `entry` states (of `appointment`, ending at `ended_at`) was short, as the register last said
    it: the clinician's reason on the nearest line that gave one (a recorded line's "Infusion of ...,
    under half the protocol's N minutes: <why>", or one a correction carried), or the own reason of a
    correction of the start or the route that made it short (which suffices for a short infusion; a
    correction of an infusion already short keeps the reason given before it). Empty when none did."""
    line: ControlledSubstanceEntry | None = entry
    while line is not None:
        given = _short_given(line.reason)
        if given:
            return given
        before = line.corrects
        if (
            before is not None
            and (line.administered_at != before.administered_at or line.route != before.route)
            and not _infusion_short(
                appointment, route=before.route, started_at=before.administered_at, ended_at=ended_at
            )
        ):
            return _own_words(line)
        line = before
    return ""


def _own_words(line: ControlledSubstanceEntry) -> str:
    """A correction's reason in its own words: without the statement of a change of route it carries
    (`_deviation_stated`, after its words), and for a prescriber's correction to another route, whose
    line is that statement, the prescriber's reason in it."""
    reason = line.reason.strip()
    if line.route not in Route.values:
        return reason
    at = reason.rfind(f"Given by {Route(line.route).label} instead of the session's ")
    if at < 0:
        return reason
    if at == 0:  # "Given by <route> instead of the session's <route>: <why>" (no route's label has ": ")
        return reason.partition(": ")[2].strip()
    return reason[:at].removesuffix("; ").strip()


def _short_given(reason: str) -> str:
    """The clinician's reason in a line's "Infusion of ..., under half the protocol's N minutes: <why>",
    which ends the line's reason: the last such text (a correction's own words come before it)."""
    given = _short_text(reason)
    return given["why"].strip() if given is not None else ""


def _short_text(reason: str) -> re.Match[str] | None:
    """The last "Infusion of ..., under half the protocol's N minutes: <why>" in a line's reason."""
    for at in reversed([found.start() for found in re.finditer(SHORT_INFUSION_MARK, reason)]):
        given = SHORT_INFUSION_GIVEN.match(reason, at)
        if given is not None:
            return given
    return None


def _deviation_stated(entry: ControlledSubstanceEntry) -> str:
    """The statement of the prescriber's change of route that `entry`'s route stands on, as the register
    last gave it: "Given by <route> instead of the session's <route>: <why>" on the nearest line, from
    `entry` back through the lines it corrects while their route is the same, that states it (a line by
    another route than the session's states it, or carries it; what ends the line after it, a short
    infusion's text, is not part of it). Empty when none does: a line recorded before routes were checked."""
    if entry.route not in Route.values:
        return ""
    mark = f"Given by {Route(entry.route).label} instead of the session's "
    line: ControlledSubstanceEntry | None = entry
    while line is not None and line.route == entry.route:
        at = line.reason.rfind(mark)
        if at >= 0:
            stated = line.reason[at:]
            short = _short_text(stated)
            return (stated[: short.start()].removesuffix("; ") if short is not None else stated).strip()
        line = line.corrects
    return ""


def _in_chair_by(appointment: Appointment, started_at: dt.datetime) -> dt.datetime:
    """When the patient was in the chair, for a session whose chair step was skipped: at the
    infusion's start, which is taken to the minute, but never before the check-in's own second
    (a start entered as 10:05 for a check-in at 10:05:40)."""
    checked_in_at = appointment.checked_in_at
    return started_at if checked_in_at is None else max(started_at, checked_in_at)


def _check_times(
    appointment: Appointment, *, started_at: dt.datetime, ended_at: dt.datetime, now: dt.datetime, field: str
) -> None:
    """The administration's times, when recorded and when its start is corrected: it ends after it
    starts, not in the future, and starts once the start gate was open in this visit. `field` is
    the time a wrong order is put on: the one being given."""
    if not started_at < ended_at:
        zone = appointment.site.zone
        raise InvalidInput(
            f"The administration must end after it starts (start {started_at.astimezone(zone):%H:%M}, "
            f"end {ended_at.astimezone(zone):%H:%M}).",
            details={"field": field},
        )
    if ended_at > now:
        raise InvalidInput("The administration cannot end in the future.", details={"field": "ended_at"})
    _require_start_allowed_at(appointment, started_at)


@transaction.atomic
def administration_record(
    *,
    appointment: Appointment,
    route: str,
    dose_mg_per_kg: Decimal,
    weight_kg: Decimal,
    total_mg: Decimal,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    lot_number: str,
    given_by: StaffMember,
    actor: AbstractBaseUser,
    now: dt.datetime,
    route_change_reason: str = "",
    short_infusion_reason: str = "",
) -> Administration:
    """Record what was given, and write its line in the controlled-substance log. Another route
    than the session's is recorded only by a prescriber (`actor`) giving `route_change_reason`;
    an IV infusion under half its protocol's minutes only with `short_infusion_reason`; the log
    line and the record's history then state the deviation and the short infusion.

    A session still checked in (the "in the chair" step skipped) is moved to the chair as that step
    moves it, at the infusion's start (the patient was in the chair by then), or at the check-in when
    the start, typed to the minute, falls in the check-in's own minute."""
    appointment = _lock(appointment)
    _require_arrived(appointment, "record the administration")
    if Administration.objects.filter(appointment=appointment).exists():
        raise InvalidState("The administration is already recorded; correct it through the controlled-substance log.")
    # Nothing is given while the start is held, even if the session skipped the chair step.
    # Judged at the infusion's start: a reading taken during the infusion (still "pre-infusion"
    # while the chair step was skipped; ketamine raises blood pressure) did not hold a start made.
    held = start_hold_reasons(appointment=appointment, at=started_at)
    # A start typed before every reading of the visit, or before the clearance given since, is a
    # wrong time: `_check_times` says so, on the field, with the readings' or the clearance's time.
    if held == [NO_PRE_VITALS] and _pre_vitals_this_visit(appointment).exists():
        held = []
    if held and start_hold_reasons(appointment=appointment):
        raise StartHeld(held)
    _require_may_give(given_by, appointment.site)
    deviation = _route_deviation(appointment, route, actor=actor, reason=route_change_reason)
    _check_dose(route=route, dose_mg_per_kg=dose_mg_per_kg, weight_kg=weight_kg, total_mg=total_mg)
    _check_times(appointment, started_at=started_at, ended_at=ended_at, now=now, field="ended_at")
    short = _short_infusion(
        appointment,
        route=route,
        started_at=started_at,
        ended_at=ended_at,
        reason=short_infusion_reason,
        field="ended_at",
    )
    recovery = Recovery.objects.filter(appointment=appointment).first()
    if recovery is not None and recovery.discharged_at < ended_at + _min_monitoring():
        raise InvalidInput(
            f"The administration must end at least {_monitoring_words()} before the recorded discharge.",
            details={"field": "ended_at"},
        )
    lot_number = lot_number.strip()
    if not lot_number:
        raise InvalidInput("Give the lot number.")
    if appointment.status == AppointmentStatus.CHECKED_IN:
        appointment_start(appointment=appointment, actor=actor, now=_in_chair_by(appointment, started_at))
    administration = Administration(
        appointment=appointment,
        route=route,
        dose_mg_per_kg=dose_mg_per_kg,
        weight_kg=weight_kg,
        total_mg=total_mg,
        started_at=started_at,
        ended_at=ended_at,
        lot_number=lot_number,
        given_by=given_by,
        recorded_by=actor,
        recorded_at=now,
    )
    reason = "; ".join(part for part in (deviation, short) if part)
    administration._change_reason = reason or "Administration recorded"
    administration._history_user = actor
    administration.save()
    log_administration(administration, actor=actor, now=now, reason=reason)
    return administration


def log_administration(
    administration: Administration,
    *,
    actor: AbstractBaseUser,
    now: dt.datetime,
    corrects: ControlledSubstanceEntry | None = None,
    reason: str = "",
) -> ControlledSubstanceEntry:
    """The controlled-substance register's one writer: the line stating `administration` as it
    now is (a correction's line names the line it `corrects`). The services above call it; the
    demo seed calls it for the sessions it lays down as already given."""
    appointment = administration.appointment
    return ControlledSubstanceEntry.objects.create(
        administration=administration,
        appointment=appointment,
        patient_id=appointment.patient_id,
        site_id=appointment.site_id,
        route=administration.route,
        total_mg=administration.total_mg,
        lot_number=administration.lot_number,
        administered_at=administration.started_at,
        given_by=administration.given_by,
        recorded_by=actor,
        recorded_at=now,
        corrects=corrects,
        reason=reason,
    )


@transaction.atomic
def controlled_substance_correct(
    *,
    entry: ControlledSubstanceEntry,
    total_mg: Decimal | None = None,
    lot_number: str | None = None,
    dose_mg_per_kg: Decimal | None = None,
    weight_kg: Decimal | None = None,
    route: str | None = None,
    given_by: StaffMember | None = None,
    started_at: dt.datetime | None = None,
    reason: str,
    actor: AbstractBaseUser,
    now: dt.datetime,
) -> ControlledSubstanceEntry:
    """Correct a log line: the old line stays, a new one states the right values and why,
    and the administration record follows (its history keeps the old values). A mistyped weight
    or route is corrected too: the total is checked against the dose, the weight and the route as
    corrected. Who gave the drug and when it started are checked as when they were recorded."""
    if not reason.strip():
        raise InvalidInput("Give a reason for the correction.")
    entry = ControlledSubstanceEntry.objects.select_related("administration").get(pk=entry.pk)
    # Its row and its session's, as `_lock` takes them: not the site's, joined here only to be read.
    administration = (
        Administration.objects.select_for_update(of=("self", "appointment"))
        .select_related("appointment__site")
        .get(pk=entry.administration_id)
    )
    latest = administration.log_entries.order_by("-pk").first()
    if latest is not None and latest.pk != entry.pk:
        raise InvalidState(f"Entry #{entry.pk} was already corrected by entry #{latest.pk}; correct the latest entry.")
    appointment = administration.appointment
    new_total = administration.total_mg if total_mg is None else total_mg
    new_dose = administration.dose_mg_per_kg if dose_mg_per_kg is None else dose_mg_per_kg
    new_weight = administration.weight_kg if weight_kg is None else weight_kg
    new_lot = administration.lot_number if lot_number is None else lot_number.strip()
    new_route = administration.route if route is None else route
    new_given_by = administration.given_by if given_by is None else given_by
    new_started_at = administration.started_at if started_at is None else started_at
    if not new_lot:
        raise InvalidInput("Give the lot number.", details={"field": "lot_number"})
    corrected = {
        "total_mg": (new_total, administration.total_mg),
        "dose_mg_per_kg": (new_dose, administration.dose_mg_per_kg),
        "weight_kg": (new_weight, administration.weight_kg),
        "lot_number": (new_lot, administration.lot_number),
        "route": (new_route, administration.route),
        "given_by": (new_given_by.pk, administration.given_by_id),
        "started_at": (new_started_at, administration.started_at),
    }
    changed = [name for name, (new, old) in corrected.items() if new != old]
    if not changed:
        raise InvalidInput("The correction changes nothing.")
    # Who gave it and when it started are checked only when corrected: a lot number is still
    # corrected after the clinician who gave the drug has left the site.
    if "given_by" in changed:
        _require_may_give(new_given_by, appointment.site)
    # Only a route being corrected: a line recorded by another route (before the route was checked,
    # or on a prescriber's order) still has its lot or its amount corrected by any clinician; its
    # route is changed, to or from another than the session's, only by a prescriber: a nurse cannot
    # undo the prescriber's documented change of route either.
    reason = reason.strip()
    if "route" in changed:
        _require_prescriber_to_undo_deviation(appointment, entry, administration.route, actor=actor)
        reason = _route_deviation(appointment, new_route, actor=actor, reason=reason, correcting=True) or reason
    _check_dose(route=new_route, dose_mg_per_kg=new_dose, weight_kg=new_weight, total_mg=new_total)
    if "started_at" in changed:
        _check_times(
            appointment, started_at=new_started_at, ended_at=administration.ended_at, now=now, field="started_at"
        )
    # A line by another route than the session's states the prescriber's change of route: a correction
    # that leaves the route as it was carries the statement, as the register last gave it, onto the
    # new line (the register reads the new line; the corrected one is no longer the truth).
    if "route" not in changed and _route_deviates(appointment, new_route):
        deviation = _deviation_stated(entry)
        if deviation:
            reason = f"{reason}; {deviation}"
    # A correction of the start or the route gives its own reason, which the line keeps as given and
    # which suffices for an infusion it leaves short. Any other correction carries the reason the
    # register last gave for a short infusion: the corrected line is no longer the one it reads.
    ended_at = administration.ended_at
    if (
        "started_at" not in changed
        and "route" not in changed
        and _infusion_short(appointment, route=new_route, started_at=new_started_at, ended_at=ended_at)
    ):
        justification = _short_justification(entry, appointment=appointment, ended_at=ended_at)
        if justification:
            carried = _short_infusion(
                appointment,
                route=new_route,
                started_at=new_started_at,
                ended_at=ended_at,
                reason=justification,
                field="started_at",
            )
            reason = f"{reason}; {carried}"
    administration.total_mg, administration.dose_mg_per_kg = new_total, new_dose
    administration.weight_kg, administration.lot_number = new_weight, new_lot
    administration.route, administration.given_by = new_route, new_given_by
    # The in-chair time taken from the infusion's start (the chair step skipped), or now after the
    # corrected start, follows it: the course's baseline counts answers until it.
    in_chair_at = appointment.in_chair_at
    follows = _in_chair_by(appointment, new_started_at)
    if (
        "started_at" in changed
        and in_chair_at is not None
        and (in_chair_at == _in_chair_by(appointment, administration.started_at) or in_chair_at > follows)
    ):
        appointment.in_chair_at = follows
        appointment._change_reason = f"In-chair time follows the corrected infusion start: {reason}"
        appointment._history_user = actor
        appointment.save(update_fields=["in_chair_at", "updated_at"])
    administration.started_at = new_started_at
    administration._change_reason = f"Corrected: {reason}"
    administration._history_user = actor
    administration.save(update_fields=changed)
    return log_administration(administration, actor=actor, now=now, corrects=entry, reason=reason)


@transaction.atomic
def recovery_record(
    *,
    appointment: Appointment,
    side_effects: Sequence[SideEffect],
    other_side_effects: str = "",
    notes: str = "",
    discharged_at: dt.datetime,
    driver_name: str,
    actor: AbstractBaseUser,
    now: dt.datetime,
    override_reason: str = "",
) -> Recovery:
    """Record recovery and discharge; recording again replaces the earlier answer (kept in history).

    The discharge follows a recovery (post-infusion) reading taken after the administration ended;
    while the latest such reading is outside the site's limits it is refused, unless a prescriber
    records it over them with `override_reason` (kept as the history's change reason)."""
    appointment = _lock(appointment)
    _require_arrived(appointment, "record the discharge")
    driver_name = driver_name.strip()
    if not driver_name:
        raise InvalidInput(
            "Name who drives the patient home; the patient must not drive after a session.",
            details={"field": "driver_name"},
        )
    if discharged_at > now:
        raise InvalidInput("The discharge time cannot be in the future.", details={"field": "discharged_at"})
    administration = _require_administration(appointment, "recovery and discharge follow it")
    zone = appointment.site.zone
    earliest = administration.ended_at + _min_monitoring()
    if discharged_at <= administration.ended_at or discharged_at < earliest:
        raise InvalidInput(
            f"The discharge must be at least {_monitoring_words()} after the administration ended "
            f"(not before {earliest.astimezone(zone):%H:%M}).",
            details={"field": "discharged_at"},
        )
    reading = _latest_recovery_vitals(appointment, administration)
    if reading is None:
        raise InvalidState(
            "Record recovery (post-infusion) vitals first: the discharge follows a reading taken after the "
            f"administration ended (at {administration.ended_at.astimezone(zone):%H:%M})."
        )
    # At minute precision, as the form takes times: a discharge at 11:30 follows a reading at 11:30:40.
    if reading.recorded_at >= discharged_at.replace(second=0, microsecond=0) + dt.timedelta(minutes=1):
        raise InvalidInput(
            f"The discharge must come after the latest recovery vitals (taken at "
            f"{reading.recorded_at.astimezone(zone):%H:%M}).",
            details={"field": "discharged_at"},
        )
    problems = vitals_problems(reading, thresholds_for(site=appointment.site))
    override_reason = override_reason.strip()
    if problems and not override_reason:
        raise InvalidState(
            f"The latest recovery vitals (taken at {reading.recorded_at.astimezone(zone):%H:%M}) are outside "
            f"the clinic's limits: {'; '.join(problems)}. Re-measure and record the new reading before the "
            "discharge; a prescriber may record the discharge over these readings with a reason.",
            details={"problems": problems},
        )
    if problems and not is_prescriber(actor):
        raise InvalidInput(
            "Only a prescriber may record the discharge over recovery vitals outside the clinic's limits.",
            details={"field": "override_reason"},
        )
    if any(not effect.active for effect in side_effects):
        retired = ", ".join(effect.label for effect in side_effects if not effect.active)
        raise InvalidInput(f"{retired} is no longer on the list; choose again.", details={"field": "side_effects"})
    recovery = Recovery.objects.filter(appointment=appointment).first() or Recovery(appointment=appointment)
    reason = "Discharge corrected" if recovery.pk else "Discharge recorded"
    if problems:
        reason = f"{DISCHARGED_OVER_VITALS} ({'; '.join(problems)}): {override_reason}"
    recovery.other_side_effects = other_side_effects.strip()
    recovery.notes = notes.strip()
    recovery.discharged_at = discharged_at
    recovery.driver_name = driver_name
    recovery.recorded_by = actor
    recovery.recorded_at = now
    recovery._change_reason = reason
    recovery._history_user = actor
    recovery.save()
    recovery.side_effects.set(side_effects)
    return recovery
