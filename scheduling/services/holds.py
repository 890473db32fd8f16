"""Holds: a session reserved for a few minutes by an outside system (the FHIR server's
$hold) before it books. A hold occupies its chair, nurse and patient exactly like a
booking (it is one of the blocking statuses the exclusion constraints and the engine's
snapshot count), sends nothing, and lapses by itself: the sweep cancels expired holds."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from scheduling.engine import Slot
from scheduling.engine.availability import site_problem
from scheduling.errors import BookingConflict, InvalidState, PlanRuleBroken
from scheduling.models import (
    BOOKABLE_PLAN_STATUSES,
    HOLD_EXPIRED,
    Appointment,
    AppointmentStatus,
    PlanStatus,
    TreatmentPlan,
    lapsed_holds,
)
from scheduling.reminders import services as reminders
from scheduling.selectors import protocol_nurse_work
from scheduling.services.appointments import plan_rule_violations, require_screening_for_session
from scheduling.services.core import (
    acting_user,
    conflict_for,
    fresh_availability,
    lock_for_booking,
    release_lapsed_holds,
    save_with_history,
    slot_problem,
)
from scheduling.services.courses import attention_when_course_whole
from scheduling.signals import announce, appointment_booked


@transaction.atomic
def appointment_book_held(*, appointment: Appointment, actor: AbstractBaseUser | None, now: dt.datetime) -> Appointment:
    """Turn a hold into a booking, by the user who holds it (who made it) only: another user who
    can see the hold is refused, so a held time is not booked under someone else's name from
    under its holder. The holder's retry on a hold already booked returns it unchanged; a hold
    that has lapsed (swept or not) is refused, since its time may have been promised elsewhere; so
    is one released before it lapsed (told why: its cancellation reason), a hold on a course paused
    or ended since (pausing or ending releases its holds), one that breaks the plan's rules now (a
    review date brought forward before it, say), and one whose patient's screening stops booking
    now, as every booking's does. The plan is locked before the hold, the order pausing (plan, then
    its sessions) and booking take; under that lock a held make-up that makes the induction whole
    takes back the flag its shortness raised, as a direct booking does."""
    plan_id = Appointment.objects.filter(pk=appointment.pk).values_list("plan_id", flat=True).first()
    plan = (
        TreatmentPlan.objects.select_for_update(of=("self",)).select_related("protocol").get(pk=plan_id)
        if plan_id
        else None
    )
    current = Appointment.objects.select_for_update(of=("self",)).select_related("site", "chair").get(pk=appointment.pk)
    holder = acting_user(actor)
    # A hold (booked since, or still held) is its holder's: anyone else is refused, not answered
    # as if they had booked it. A lapsed one is refused below for having lapsed.
    live = current.status == AppointmentStatus.BOOKED or (
        current.status == AppointmentStatus.HELD
        and current.hold_expires_at is not None
        and current.hold_expires_at > now
    )
    if live and current.hold_expires_at is not None and current.booked_by_id != (holder.pk if holder else None):
        raise BookingConflict(
            "Another user holds this time; only the user who held it can book it. Find another time.",
            details={"reason": "held_by_another_user", "status": current.status},
        )
    if current.status == AppointmentStatus.BOOKED and current.hold_expires_at is not None:
        return current  # booked from this hold already: a retry is harmless
    if current.hold_expires_at is None:
        # Booked directly, never held: there is no hold to book (it had been answered as expired).
        raise BookingConflict(
            f"This appointment was never a hold (it is {current.get_status_display().lower()}): there is no hold "
            "to book. Find a time and hold it, or book it directly.",
            details={"reason": "not_a_hold", "status": current.status},
        )
    if plan is not None and plan.status not in BOOKABLE_PLAN_STATUSES:
        raise InvalidState(f"The plan is {plan.get_status_display().lower()}; the held time cannot be booked.")
    if (
        current.status == AppointmentStatus.CANCELLED
        and current.hold_expires_at is not None
        and current.cancellation_reason != HOLD_EXPIRED
    ):
        # Cancelled before it lapsed (a review date brought forward, a pause since resumed, the EHR's
        # cancel): the EHR is told that and why, not that the hold lapsed. A hold booked and then
        # cancelled is told as such: its history (as the waitlist reads it) shows the booking.
        why = current.cancellation_reason.rstrip(". ")
        if Appointment.history.model.objects.filter(id=current.pk, status=AppointmentStatus.BOOKED).exists():
            raise BookingConflict(
                f"The held time was booked and has since been cancelled: {why}. Find a new time and hold it again.",
                details={"reason": "cancelled", "status": current.status},
            )
        raise BookingConflict(
            f"The hold was released: {why}. Find a new time and hold it again.",
            details={"reason": "hold_released", "status": current.status},
        )
    if current.status != AppointmentStatus.HELD or current.hold_expires_at is None or current.hold_expires_at <= now:
        raise BookingConflict(
            "The hold has expired; find a new time and hold it again.",
            details={"reason": "hold_expired", "status": current.status},
        )
    # The nurse and the patient are locked as every booking locks them: a consent or a detail saved
    # at this moment is read under the lock, and this session's reminders are planned from it.
    lock_for_booking(nurse_ids=[current.nurse_id] if current.nurse_id else [], patient=current.patient)
    _require_held_time_still_free(current, plan=plan, now=now)
    # The screening holds as for any booking, read now: a flag or a reading recorded since the time
    # was held stops it (the hold stays, as when the plan's rules refuse it) until a prescriber's
    # override covers it.
    require_screening_for_session(patient=current.patient, plan=plan, site=current.site, now=now, actor=actor)
    if plan is not None:
        # The plan's rules hold as for any booking, read now rather than when the time was held: a
        # review date brought forward, or a session of the course booked or moved since, may have
        # put the held time outside them. A prescriber's break accepted when it was held stands.
        violations = plan_rule_violations(
            plan=plan,
            starts_at=current.starts_at,
            phase=current.phase,
            exclude_id=current.pk,
            site=current.site,
            now=now,
        )
        if violations and not current.rule_override_reason:
            raise PlanRuleBroken(violations, can_override=False)
    current.status = AppointmentStatus.BOOKED
    save_with_history(current, fields=["status"], actor=actor, reason="Booked from a hold")
    if plan is not None and plan.status == PlanStatus.DRAFT:
        plan.status = PlanStatus.ACTIVE
        plan.version += 1
        save_with_history(plan, fields=["status", "version"], actor=actor, reason="Activated by the first booking")
    if plan is not None:
        # Under the plan's lock taken above, as a direct booking does: a held make-up that makes
        # the induction whole takes back the flag its shortness raised.
        attention_when_course_whole(plan=plan, actor=actor, booked=current)
    reminders.reminders_schedule(appointment=current, now=now, just_inserted=True)
    announce(appointment_booked, appointments=[current], actor=actor)
    return current


def holds_release_expired(*, now: dt.datetime, batch_size: int = 500) -> int:
    """Cancel every hold that lapsed by `now`, freeing its time (the beat sweep; a booking
    releases the lapsed holds in its way itself, see verify_slots). Returns how many were released."""
    released = 0
    while True:
        with transaction.atomic():
            batch = Appointment.objects.filter(
                pk__in=Appointment.objects.filter(lapsed_holds(now))
                .order_by("hold_expires_at")
                .values("pk")[:batch_size]
            ).order_by("hold_expires_at")
            count = release_lapsed_holds(batch, now=now)
        released += count
        if count < batch_size:
            return released


def _require_held_time_still_free(held: Appointment, *, plan: TreatmentPlan | None, now: dt.datetime) -> None:
    """The held time against the site as it stands now, the hold itself left out, as every booking
    is checked: its chair taken out of use, the site (or every site) closed, the opening hours or
    the nurse's shift changed since the time was held stop the booking (the hold stays, to lapse)."""
    if plan is not None:
        route, work = plan.protocol.route, protocol_nurse_work(plan.protocol)
    else:
        route, work = held.session_route, protocol_nurse_work(None)
    availability = fresh_availability(
        site=held.site,
        patient=held.patient,
        start=held.starts_at,
        end=held.ends_at,
        exclude_ids=[held.pk],
        chairs=[held.chair],
        nurse_ids=[held.nurse_id] if held.nurse_id else [],
        work=work,
        now=now,
    )
    if held.nurse_id:
        problem = slot_problem(
            availability, Slot(held.starts_at, held.ends_at, held.chair_id, held.nurse_id), route=route
        )
    else:  # a hold with no nurse named: the site's set-up alone (no nurse to count)
        problem = site_problem(availability.site, Slot(held.starts_at, held.ends_at, held.chair_id, 0), route=route)
    if problem:
        raise conflict_for(problem, starts_at=held.starts_at, site=held.site)
