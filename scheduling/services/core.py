"""The shared write path: lock, re-check against fresh data, insert or move,
translate the database's refusal into a conflict a person can read.

Concurrency: every write that puts a session in a chair first locks the rows
of the nurses involved (in primary-key order, so two writers cannot deadlock)
and then the patient. The nurse ratio and the nurse's hands-on limit (setups, checks and
discharges per nurse at once) can only be held under that lock; the
chair and patient rules are also held by PostgreSQL's exclusion constraints,
so a writer that slipped past the check still loses at INSERT.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser, User
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Field, QuerySet

from clinic.models import Chair, Site, StaffMember
from clinic.rows import column_reader
from patients.models import Patient
from scheduling.engine import Availability, Slot
from scheduling.engine.availability import site_problem
from scheduling.engine.model import DEFAULT_NURSE_WORK, NurseWork
from scheduling.errors import BookingConflict
from scheduling.models import (
    BLOCKING_STATUSES,
    HOLD_EXPIRED,
    Appointment,
    AppointmentStatus,
    Phase,
    TreatmentPlan,
    lapsed_holds,
)
from scheduling.selectors import booking_snapshot
from scheduling.signals import announce, appointment_booked

_CONSTRAINT_MESSAGES = {
    "appointment_no_chair_overlap": "the chair was just booked by someone else for that time",
    "appointment_no_patient_overlap": "the patient already has a session at that time",
    "appointment_one_sequence_per_plan": "that session of the plan was just booked by someone else",
}
_CONSTRAINT_REASONS = {
    "appointment_no_chair_overlap": "chair_taken",
    "appointment_no_patient_overlap": "patient_busy",
    "appointment_one_sequence_per_plan": "sequence_taken",
}

# The machine-readable reason for each problem slot_problem() and the engine describe in words,
# by the words' start (the engine stays plain Python and returns text). A client branches on
# `details.reason` of a booking_conflict; tests pin every entry.
_PROBLEM_REASONS = (
    ("the site is closed", "site_closed"),
    ("outside opening hours", "outside_opening_hours"),
    ("that chair is not equipped", "chair_not_equipped"),
    ("that chair is not", "chair_not_at_site"),
    ("the chair is already booked", "chair_taken"),
    ("the chair is out of use", "chair_out_of_use"),
    ("the patient already has a session", "patient_busy"),
    ("the nurse is not on shift", "nurse_off_shift"),
    ("no nurse is on shift", "nurse_off_shift"),
    ("the nurse already has", "nurse_at_capacity"),
    ("the nurse is busy setting up", "nurse_setup_busy"),
)
# When no chair and nurse can be found, the reason that explains it best comes first: a closure
# closes every chair and a busy patient is busy in every chair; a nurse problem means some chair
# was free (the chair is checked first), so "every chair is taken" is said only when it is true.
_REASON_PRIORITY = (
    "site_closed",
    "outside_opening_hours",
    "patient_busy",
    "nurse_at_capacity",
    "nurse_setup_busy",
    "nurse_off_shift",
    "chair_taken",
    "chair_out_of_use",
    "chair_not_equipped",
    "chair_not_at_site",
)


def problem_reason(problem: str) -> str:
    return next((reason for start, reason in _PROBLEM_REASONS if problem.startswith(start)), "unavailable")


def conflict_for(problem: str, *, starts_at: dt.datetime, site: Site) -> BookingConflict:
    return BookingConflict(
        f"Not booked: {local_label(starts_at, site)}: {problem}.",
        details={"reason": problem_reason(problem), "starts_at": starts_at.isoformat()},
    )


def best_problem(problems: Sequence[str]) -> str:
    """Of the problems met trying every chair and nurse, the one that explains the refusal."""
    ranked = {reason: index for index, reason in enumerate(_REASON_PRIORITY)}
    return min(problems, key=lambda problem: ranked.get(problem_reason(problem), len(ranked)))


def local_label(instant: dt.datetime, site: Site) -> str:
    return f"{instant.astimezone(site.zone):%a %-d %b %Y %H:%M}"


def translate_integrity_error(exc: IntegrityError) -> BookingConflict | None:
    cause = exc.__cause__
    name = getattr(getattr(cause, "diag", None), "constraint_name", None)
    if name in _CONSTRAINT_MESSAGES:
        return BookingConflict(
            f"Not booked: {_CONSTRAINT_MESSAGES[name]}.",
            details={"constraint": name, "reason": _CONSTRAINT_REASONS[name]},
        )
    return None


def translate_deadlock(exc: OperationalError) -> BookingConflict | None:
    """Two bookings whose rows exclude each other (the same chair, or the same patient, at the same
    time), inserted at the same moment, can each wait on the other in PostgreSQL's exclusion-
    constraint check; PostgreSQL then aborts one as a deadlock. That booking lost the race, as the
    constraint's own refusal says when the other has committed first: a conflict, not an error."""
    cause = exc.__cause__
    if getattr(cause, "pgcode", None) != "40P01":
        return None
    context = getattr(getattr(cause, "diag", None), "context", None) or ""
    if "exclusion constraint" not in context or Appointment._meta.db_table not in context:
        return None
    return BookingConflict(
        "Not booked: the chair or the patient was just booked by someone else for that time (two bookings "
        "met at the same moment); choose the time again.",
        details={"constraint": None, "reason": "taken_concurrently"},
    )


@dataclass(frozen=True)
class PlannedSession:
    """A session about to be written: where, when, and its place in the plan."""

    slot: Slot
    phase: str = Phase.INDUCTION
    induction_round: int = 1


# A plan is locked with only its own row (and its patient's where the caller reads the patient
# with it): FOR UPDATE without OF would lock every joined row, its protocol's and its site's too,
# and so queue every booking of that protocol across the clinic, and every one at that site,
# behind each other. The plan's rules are the plan's; booking's own locks are lock_for_booking's.
PLAN_ROW = ("self",)
PLAN_AND_PATIENT_ROWS = ("self", "patient")

# What a booking plans the patient's reminders from (scheduling.reminders): read again with the lock.
_REMINDER_INPUTS = ("reminder_consent", "email", "mobile_phone", "preferred_channel", "time_zone", "home_site_id")


def lock_for_booking(*, nurse_ids: Sequence[int], patient: Patient) -> None:
    """Lock the patient, then the nurses (by id), and read again, under the lock, what the
    patient's reminders are planned from (with the home site's zone, theirs when they name none):
    a consent or a detail saved while the booking ran was planned for the sessions booked so far
    (`reminders_resume`, `reminders_replan`), not this one, so this booking must plan from the
    saved values, not from its copy read before the lock.

    Patient first, as everywhere: a course, a plan's change and a cancellation's re-booking lock
    the plan with its patient (PLAN_AND_PATIENT_ROWS) before they know their nurses; taking the
    nurse first here deadlocked a single session against a course booked for the same patient."""
    nurses = sorted(set(nurse_ids))
    if len(nurses) == 1 and connection.vendor == "postgresql":
        # One statement, same order: the single row of the join locks the patient, then the nurse
        # (PostgreSQL locks a row's tables in the order FOR UPDATE OF names them).
        columns = ", ".join(f"p.{_patient_field(name).column}" for name in _REMINDER_INPUTS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns}, hs.time_zone FROM patients_patient p"  # noqa: S608
                " JOIN clinic_site hs ON hs.id = p.home_site_id, clinic_staffmember s"
                " WHERE p.id = %s AND s.id = %s FOR UPDATE OF p, s",
                [patient.pk, nurses[0]],
            )
            row = cursor.fetchone()
        if row is not None:
            _reminder_inputs_read(patient, row)
            return
    row = (
        Patient.objects.select_for_update(of=("self",))
        .filter(pk=patient.pk)
        .values_list(*_REMINDER_INPUTS, "home_site__time_zone")
        .first()
    )
    list(StaffMember.objects.select_for_update().filter(pk__in=nurses).order_by("pk").values_list("pk"))
    if row is not None:
        _reminder_inputs_read(patient, row, converted=True)


def _reminder_inputs_read(patient: Patient, row: Sequence[Any], *, converted: bool = False) -> None:
    *inputs, site_zone = row
    for name, value in zip(_REMINDER_INPUTS, inputs, strict=True):
        if not converted:
            read = _column_reader(name)
            value = read(value) if read is not None else value
        setattr(patient, name, value)  # a changed home site drops the cached one (Django's FK descriptor)
    home_site = patient._state.fields_cache.get("home_site")
    if home_site is not None:
        home_site.time_zone = site_zone  # corrected meanwhile: the patient's zone when they name none


def _patient_field(name: str) -> Field:
    return cast(Field, Patient._meta.get_field(name))


@functools.cache
def _column_reader(name: str) -> Any:
    return column_reader(_patient_field(name))


def fresh_availability(
    *,
    site: Site,
    patient: Patient | None,
    start: dt.datetime,
    end: dt.datetime,
    exclude_ids: Sequence[int] = (),
    chairs: Sequence[Chair] | None = None,
    nurse_ids: Sequence[int] | None = None,
    work: NurseWork = DEFAULT_NURSE_WORK,
    now: dt.datetime | None = None,
) -> Availability:
    """What is free in [start, end); a hold lapsed by `now` is free (see booking_snapshot)."""
    snapshot, busy = booking_snapshot(
        site=site,
        start=start,
        end=end,
        patient=patient,
        exclude_appointment_ids=exclude_ids,
        chairs=chairs,
        nurse_ids=nurse_ids,
        now=now,
    )
    return Availability(snapshot, busy, work)


def slot_problem(availability: Availability, slot: Slot, *, route: str) -> str | None:
    """What stops `slot` being booked: hours, closures, equipment, the chair (out of use or
    taken), patient, nurse."""
    return site_problem(availability.site, slot, route=route) or availability.slot_is_free(slot)


def verify_slots(
    *,
    site: Site,
    patient: Patient,
    slots: Sequence[Slot],
    route: str,
    exclude_ids: Sequence[int] = (),
    chairs: Sequence[Chair] | None = None,
    work: NurseWork = DEFAULT_NURSE_WORK,
    now: dt.datetime | None = None,
) -> None:
    """Lock and re-check every slot against committed data; raise BookingConflict naming the first problem.

    `work` is the sessions' nurse work (their protocol's): the nurse's hands-on limit is
    checked here, under the nurse-row locks, like the ratio.

    A hold lapsed by `now` but not swept yet is free time: the holds in the way are released
    here (as the sweep would), so the insert does not meet them in the database's constraints.

    `chairs` are the slots' chair rows when the caller already holds them (read in this
    transaction), which saves reading them again. Only the slots' chairs and nurses are read."""
    nurse_ids = sorted({s.nurse_id for s in slots})
    lock_for_booking(nurse_ids=nurse_ids, patient=patient)
    start = min(s.start for s in slots)
    end = max(s.end for s in slots)
    wanted = {s.chair_id for s in slots}
    if chairs is None or wanted - {c.pk for c in chairs}:
        chairs = list(Chair.objects.filter(pk__in=wanted))
    availability = fresh_availability(
        site=site,
        patient=patient,
        start=start,
        end=end,
        exclude_ids=exclude_ids,
        chairs=[c for c in chairs if c.pk in wanted],
        nurse_ids=nurse_ids,
        work=work,
        now=now,
    )
    for slot in sorted(slots, key=lambda s: s.start):
        problem = slot_problem(availability, slot, route=route)
        if problem:
            raise conflict_for(problem, starts_at=slot.start, site=site)
        availability.claim(slot)
    lapsed = availability.site.lapsed_holds
    if lapsed and now is not None:
        release_lapsed_holds(Appointment.objects.filter(pk__in=lapsed).order_by("hold_expires_at"), now=now)
        if Appointment.objects.filter(pk__in=lapsed).exclude(status=AppointmentStatus.CANCELLED).exists():
            # One was locked, so not released: its outside system is booking it this moment ($book
            # begun a second before it lapsed), or has just booked it. Its time was counted free
            # above (the nurse's ratio has no database constraint to catch it); it is not.
            raise BookingConflict(
                "Another system is booking a time held there right now; try again in a moment.",
                details={"reason": "hold_being_booked"},
            )


def release_lapsed_holds(holds: QuerySet[Appointment], *, now: dt.datetime) -> int:
    """Cancel those of `holds` that lapsed by `now`, freeing their time, and renumber their
    plans. Claimed with SKIP LOCKED, so a hold being booked right now (row locked) is left to
    that booking, and two releases never take the same row. Returns how many were released."""
    rows = list(holds.select_for_update(skip_locked=True).filter(lapsed_holds(now)))
    plans = set()
    for appointment in rows:
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancelled_at = now
        appointment.cancellation_reason = HOLD_EXPIRED
        save_with_history(
            appointment, fields=["status", "cancelled_at", "cancellation_reason"], actor=None, reason=HOLD_EXPIRED
        )
        if appointment.plan_id:
            plans.add(appointment.plan_id)
    for plan in TreatmentPlan.objects.filter(pk__in=plans):
        renumber(plan)
    return len(rows)


def insert_sessions(
    *,
    patient: Patient,
    plan: TreatmentPlan | None,
    site: Site,
    sessions: Sequence[PlannedSession],
    actor: AbstractBaseUser | None,
    reason: str,
    hold_expires_at: dt.datetime | None = None,
    route: str = "",
) -> list[Appointment]:
    """Insert verified sessions with history; sequence numbers are settled by `renumber`.
    With `hold_expires_at` they are inserted held (FHIR $hold) until then. `route`: what a session
    without a plan is given by (a plan's sessions follow its protocol)."""
    base = 30000
    if plan is not None:
        taken = plan.appointments.filter(status__in=BLOCKING_STATUSES, sequence__gte=base).count()
        base += taken
    rows = [
        Appointment(
            patient=patient,
            plan=plan,
            sequence=(base + index + 1) if plan is not None else None,
            phase=session.phase,
            induction_round=session.induction_round,
            site=site,
            chair_id=session.slot.chair_id,
            nurse_id=session.slot.nurse_id,
            starts_at=session.slot.start,
            ends_at=session.slot.end,
            booked_by=acting_user(actor),
            status=AppointmentStatus.HELD if hold_expires_at else AppointmentStatus.BOOKED,
            hold_expires_at=hold_expires_at,
            route="" if plan is not None else route,
        )
        for index, session in enumerate(sessions)
    ]
    try:
        # No savepoint of its own: every caller is a service inside its own atomic block,
        # and the conflict below leaves through it. What simple_history's
        # bulk_create_with_history does, with its history manager built once: the `history`
        # descriptor builds a new manager class (inspect.getmembers) on every access.
        with transaction.atomic(savepoint=False):
            created = Appointment.objects.bulk_create(rows)
            _appointment_history().bulk_history_create(created, default_user=actor, default_change_reason=reason)
    except IntegrityError as exc:
        conflict = translate_integrity_error(exc)
        if conflict is None:
            raise
        raise conflict from exc
    except OperationalError as exc:
        lost = translate_deadlock(exc)
        if lost is None:
            raise
        raise lost from exc
    if plan is not None:
        renumber(plan)
        by_start = {a.starts_at: a for a in plan.appointments.filter(pk__in=[a.pk for a in created])}
        created = [by_start[a.starts_at] for a in created]
    # One announcement for the whole insert; a listener handles each session (a course is many).
    # A hold is not a booking yet: it is announced when it is booked (appointment_book_held).
    if hold_expires_at is None:
        announce(appointment_booked, appointments=created, actor=actor)
    return created


@functools.cache
def _appointment_history() -> Any:  # simple_history's manager (the package ships no types)
    return Appointment.history


def renumber(plan: TreatmentPlan) -> None:
    """Number the plan's active sessions 1..n in time order, so the board's '3 of 6' stays true
    after cancellations and re-flows. Two passes step around the unique constraint."""
    rows = list(
        plan.appointments.filter(status__in=BLOCKING_STATUSES).order_by("starts_at").values_list("pk", "sequence")
    )
    wrong = [(pk, index + 1) for index, (pk, sequence) in enumerate(rows) if sequence != index + 1]
    if not wrong:
        return
    for offset, (pk, _) in enumerate(wrong):
        Appointment.objects.filter(pk=pk).update(sequence=20000 + offset)
    for pk, number in wrong:
        Appointment.objects.filter(pk=pk).update(sequence=number)


def acting_user(actor: AbstractBaseUser | None) -> User | None:
    """The user to record as having acted: a signed-in user, or None for the system or an anonymous link."""
    return actor if isinstance(actor, User) else None


def save_with_history(instance: Any, *, fields: list[str], actor: AbstractBaseUser | None, reason: str) -> None:
    instance._change_reason = reason
    if actor is not None:
        instance._history_user = actor
    instance.save(update_fields=[*fields, "updated_at"] if hasattr(instance, "updated_at") else fields)
