"""One appointment's life: book, move, confirm, check in, start, complete,
cancel, no-show. Each refuses to act on a session in the wrong state, so a
retried call does no harm."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from clinic.models import Chair, Route, Site, StaffMember
from clinic.permissions import PRESCRIBER, require_prescriber, require_works_at
from patients.models import Patient
from scheduling.engine import NoFit, Slot
from scheduling.engine.availability import site_problem
from scheduling.engine.model import NurseWork
from scheduling.engine.placement import Placer
from scheduling.engine.wallclock import day_bounds, local_day, local_instant
from scheduling.errors import (
    CheckInNotOpen,
    InvalidInput,
    InvalidState,
    NotEligible,
    PlanRuleBroken,
    TooLateForOnlineChange,
)
from scheduling.models import (
    BOOKABLE_PLAN_STATUSES,
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    Phase,
    PlanStatus,
    TreatmentPlan,
    WaitlistEntry,
    WaitlistStatus,
)
from scheduling.reminders import services as reminders
from scheduling.selectors import (
    induction_rule,
    maintenance_rule,
    protocol_nurse_work,
    rule_sessions,
    site_placement,
)
from scheduling.services.core import (
    PLAN_AND_PATIENT_ROWS,
    PLAN_ROW,
    PlannedSession,
    acting_user,
    best_problem,
    conflict_for,
    fresh_availability,
    insert_sessions,
    local_label,
    problem_reason,
    renumber,
    save_with_history,
    slot_problem,
    translate_integrity_error,
    verify_slots,
)
from scheduling.services.courses import (
    attention_when_course_whole,
    flag_course_short,
    induction_reflow,
    induction_reflow_propose,
    induction_short_by,
    plan_enter_maintenance,
    review_date_violation,
)
from scheduling.signals import (
    announce,
    appointment_cancelled,
    appointment_changed,
    appointment_completing,
    appointment_moved,
    appointment_no_show,
    appointment_releasing,
    appointment_starting,
)

RULE_BREAK_DECISION = "Accepting a break of the plan's rules"


def may_accept_rule_breaks(actor: AbstractBaseUser | None) -> bool:
    """Overriding a protocol rule (spacing, session count) is a prescriber's decision."""
    staff = getattr(actor, "staff", None) if actor is not None else None
    return bool(staff and staff.active and staff.role == PRESCRIBER)


def _check_rule_break(actor: AbstractBaseUser | None, violations: list[str], override_reason: str) -> None:
    """Refuse a break nobody accepted; an accepted one was checked to be a prescriber's (_require_override_right)."""
    if violations and not override_reason:
        raise PlanRuleBroken(violations, can_override=may_accept_rule_breaks(actor))


def _require_override_right(actor: AbstractBaseUser | None, override_reason: str) -> None:
    if override_reason:
        require_prescriber(actor, RULE_BREAK_DECISION)


def _hours(period: dt.timedelta) -> int:
    return int(period.total_seconds() // 3600)


def _require(appointment: Appointment, allowed: tuple[str, ...], action: str) -> None:
    if appointment.status not in allowed:
        raise InvalidState(
            f"Cannot {action} a session that is {appointment.get_status_display().lower()}.",
            details={"status": appointment.status},
        )


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def plan_rule_violations(
    *,
    plan: TreatmentPlan,
    starts_at: dt.datetime,
    phase: str,
    exclude_id: int | None = None,
    sessions: list[Appointment] | None = None,
    site: Site | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Which of the plan's rules a session at `starts_at` (at `site`, the plan's by default: its
    days are that site's) would break, in words. The day and the gap between infusions are checked
    against all the patient's sessions (another plan's, a single one); the course's count, weekly
    pattern, window and spacing against the plan's own. A caller checking many candidate times
    passes the patient's `sessions` (rule_sessions) once. A hold lapsed by `now` does not count."""
    site = site or plan.site
    zone = site.zone
    ends_at = starts_at + dt.timedelta(minutes=plan.protocol.session_minutes)
    # Another plan's or a single session at the same time is a booking conflict, refused as one
    # (`_choose_slot`: "already has a session at that time"), not a rule break.
    everyone = [
        a
        for a in (rule_sessions(plan.patient_id, now=now) if sessions is None else sessions)
        if a.pk != exclude_id and (a.plan_id == plan.pk or not (a.starts_at < ends_at and a.ends_at > starts_at))
    ]
    others = [a for a in everyone if a.plan_id == plan.pk]
    before = [a for a in others if a.starts_at <= starts_at]
    after = [a for a in others if a.starts_at > starts_at]
    day = local_day(starts_at, zone)
    violations = same_day_violations(everyone, starts_at=starts_at, zone=zone, plan_id=plan.pk)
    # The protocol's gap between infusions holds in either phase: a maintenance session is kept
    # as far from the patient's other infusions (a single one, another plan's) as an induction's.
    min_gap = dt.timedelta(hours=plan.protocol.min_gap_hours)
    earlier = [a for a in everyone if a.starts_at <= starts_at]
    later = [a for a in everyone if a.starts_at > starts_at]
    neighbours = ([earlier[-1]] if earlier else []) + ([later[0]] if later else [])
    for neighbour in neighbours:
        if abs(neighbour.starts_at - starts_at) < min_gap:
            which = f"session {neighbour.sequence}" if neighbour.plan_id == plan.pk else "the patient's infusion"
            violations.append(
                f"less than {plan.protocol.min_gap_hours} hours from {which} ({local_label(neighbour.starts_at, site)})"
            )
    if day > plan.review_date:
        # The course stops at its review date in either phase (prolonged use risks dependence), as the
        # layout does (maintenance_replan) and a review date brought into the induction does
        # (plan_change_review_date): past it, a prescriber moves the date or accepts the break.
        violations.append(review_date_violation(plan))
    if phase == Phase.INDUCTION:
        rule = induction_rule(plan.protocol)
        round_sessions = [a for a in others if a.phase == Phase.INDUCTION and a.induction_round == plan.induction_round]
        if len(round_sessions) >= rule.total_sessions:
            violations.append(
                f"the induction already has {len(round_sessions)} sessions; the protocol gives {rule.total_sessions}"
            )
        if round_sessions:
            days = sorted([local_day(a.starts_at, zone) for a in round_sessions] + [day])
            if (days[-1] - days[0]).days >= rule.span_days:
                violations.append(f"the induction would take longer than the protocol's {rule.span_days} days")
            for week, count in enumerate(rule.weekly_counts):
                start = days[0] + dt.timedelta(days=7 * week)
                in_week = sum(1 for d in days if start <= d < start + dt.timedelta(days=7))
                if in_week > count:
                    violations.append(f"week {week + 1} would have {in_week} sessions; the protocol gives {count}")
    else:
        if plan.phase == Phase.INDUCTION:
            # Maintenance follows the induction: the round's sessions all come before it.
            rule = induction_rule(plan.protocol)
            held = sum(
                1
                for a in before
                if a.phase == Phase.INDUCTION and a.induction_round == plan.induction_round and a.starts_at < starts_at
            )
            if held < rule.total_sessions:
                violations.append(
                    f"maintenance follows the induction, and only {held} of its {rule.total_sessions} sessions come before this one"
                )
        rule_m = maintenance_rule(plan)
        allowed = f"the protocol allows {rule_m.min_days}–{rule_m.max_days}"
        if before:
            gap_days = (day - local_day(before[-1].starts_at, zone)).days
            if not rule_m.min_days <= gap_days <= rule_m.max_days:
                violations.append(f"{_days(gap_days)} after the previous session; {allowed}")
        if after:
            # A session moved or booked into the course keeps the spacing to the next one too.
            gap_days = (local_day(after[0].starts_at, zone) - day).days
            if not rule_m.min_days <= gap_days <= rule_m.max_days:
                violations.append(
                    f"{_days(gap_days)} before the next session ({local_label(after[0].starts_at, site)}); {allowed}"
                )
    return violations


def session_rule_violations(
    *,
    patient_id: int,
    plan: TreatmentPlan | None,
    site: Site,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    phase: str,
    exclude_id: int | None = None,
    sessions: list[Appointment] | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """The rules a session breaks, whatever path places it (booking, move, waitlist offer, finder,
    FHIR): its plan's (plan_rule_violations); without a plan, one infusion a day. A hold lapsed by
    `now` does not count."""
    if plan is not None:
        return plan_rule_violations(
            plan=plan, starts_at=starts_at, phase=phase, exclude_id=exclude_id, sessions=sessions, site=site, now=now
        )
    others = [a for a in (rule_sessions(patient_id, now=now) if sessions is None else sessions) if a.pk != exclude_id]
    return same_day_violations(others, starts_at=starts_at, zone=site.zone, ends_at=ends_at)


def same_day_violations(
    sessions: list[Appointment],
    *,
    starts_at: dt.datetime,
    zone: ZoneInfo,
    plan_id: int | None = None,
    ends_at: dt.datetime | None = None,
) -> list[str]:
    """Never two infusions on one day: `sessions` (the patient's) on the local day of `starts_at`.
    With `ends_at`, one at the same time is left to the booking conflict that refuses it."""
    day = local_day(starts_at, zone)
    same = [
        a
        for a in sessions
        if local_day(a.starts_at, zone) == day and not (ends_at and a.starts_at < ends_at and a.ends_at > starts_at)
    ]
    if plan_id is not None and any(a.plan_id == plan_id for a in same):
        return [f"another session of this plan is already on {day:%a %-d %b}"]
    if same:
        return [f"the patient already has a session on {day:%a %-d %b}"]
    return []


def _choose_slot(
    *,
    site: Site,
    patient: Patient,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    route: str,
    chair: Chair | None,
    nurse: StaffMember | None,
    exclude_ids: list[int],
    work: NurseWork,
    now: dt.datetime,
) -> Slot:
    """Fill in chair and nurse when the caller left them to us: under the site's placement
    policy (earliest: the first chair by name and the least-loaded nurse; level: the chair
    that leaves no unusable gap and is least used, and the least-used nurse)."""
    if chair is not None and nurse is not None:
        return Slot(starts_at, ends_at, chair.pk, nurse.pk)
    placement = site_placement(site, patient=patient)
    if placement.level:
        # The level score weighs the whole day (its starts, chair and nurse use), so read all of it.
        day = local_day(starts_at, site.zone)
        window = (day_bounds(day, site.zone)[0], max(ends_at, day_bounds(day, site.zone)[1]))
    else:
        window = (starts_at, ends_at)
    availability = fresh_availability(
        site=site, patient=patient, start=window[0], end=window[1], exclude_ids=exclude_ids, work=work, now=now
    )
    candidates = [chair.pk] if chair else [c.id for c in availability.site.chairs if route in c.routes]
    nurse_ids = [nurse.pk] if nurse else [n.id for n in availability.site.nurses]
    problems: list[str] = []
    if placement.level:
        feasible = [
            slot
            for slot in (Slot(starts_at, ends_at, c, n) for c in candidates for n in nurse_ids)
            if slot_problem(availability, slot, route=route) is None
        ]
        if feasible:
            ranked = Placer(availability, placement).rank(feasible)
            best = ranked[0].slot
            # `rank` gives the best slot the least-used nurse free then; keep a nurse the caller named.
            return Slot(best.start, best.end, best.chair_id, nurse.pk) if nurse else best
    for chair_id in candidates:
        for nurse_id in sorted(
            nurse_ids, key=lambda n: availability.nurse_load(n, Slot(starts_at, ends_at, 0, n).span)
        ):
            slot = Slot(starts_at, ends_at, chair_id, nurse_id)
            problem = slot_problem(availability, slot, route=route)
            if problem is None:
                return slot
            problems.append(problem)
    if not problems:
        # Nothing to pair (no chair for the route, or no nurse on shift then): the day's hours or a
        # closure say why first, as they do when a chair and a nurse are named (a Sunday the site
        # never opens has no nurse on shift either).
        chairs_here = candidates or [c.id for c in availability.site.chairs]
        probe = Slot(starts_at, ends_at, chairs_here[0], 0) if chairs_here else None
        closed = site_problem(availability.site, probe, route=route) if probe is not None else None
        problems = [
            closed
            if closed is not None and problem_reason(closed) in ("site_closed", "outside_opening_hours")
            else "no chair equipped for this route is in use"
            if not candidates
            else "no nurse is on shift at this site then"
        ]
    # Name what is really in the way (the patient's own session, a closure, every chair taken,
    # nurse capacity), not a generic "nothing free".
    raise conflict_for(best_problem(problems), starts_at=starts_at, site=site)


def require_screening_for_session(
    *, patient: Patient, plan: TreatmentPlan | None, site: Site, now: dt.datetime, actor: AbstractBaseUser | None
) -> None:
    """Refuses (NotEligible) a session booked or moved to a new time while the patient's screening
    stops booking: a plan's session unless the plan's override covers it, a single session unless
    the patient's open plan's does (scheduling.services.eligibility)."""
    from scheduling.services.eligibility import require_eligible, require_eligible_for_a_single_session

    if plan is not None:
        require_eligible(plan=plan, now=now, actor=actor)
    else:
        require_eligible_for_a_single_session(patient=patient, site=site, now=now, actor=actor)


@transaction.atomic
def appointment_book(
    *,
    patient: Patient,
    site: Site,
    starts_at: dt.datetime,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
    plan: TreatmentPlan | None = None,
    phase: str | None = None,
    chair: Chair | None = None,
    nurse: StaffMember | None = None,
    duration: dt.timedelta | None = None,
    override_reason: str = "",
    route: str | None = None,
    hold_until: dt.datetime | None = None,
) -> Appointment:
    """Book one session. With a plan, its rules are checked; a prescriber may accept a break with a reason.

    With `hold_until` the session is only held until then (FHIR $hold): it occupies its chair,
    nurse and patient like a booking, but sends nothing and leaves a draft plan a draft until
    appointment_book_held turns it into a booking."""
    require_works_at(actor, site)
    _require_override_right(actor, override_reason)
    if starts_at <= now:
        raise InvalidInput("A session cannot be booked in the past.", details={"field": "starts_at"})
    if plan is not None:
        plan = TreatmentPlan.objects.select_for_update(of=PLAN_ROW).select_related("protocol", "site").get(pk=plan.pk)
        if plan.patient_id != patient.pk:
            raise InvalidInput("That plan belongs to another patient.", details={"field": "plan"})
        if plan.status not in BOOKABLE_PLAN_STATUSES:
            raise InvalidState(f"The plan is {plan.get_status_display().lower()}; resume it before booking.")
        # Every session, not only a course's first: a flag or a reading recorded since the course
        # began stops the next booking until a prescriber's override covers it.
        require_screening_for_session(patient=patient, plan=plan, site=site, now=now, actor=actor)
        phase = phase or plan.phase
        chair_time = dt.timedelta(minutes=plan.protocol.session_minutes)
        duration = duration or chair_time
        work = protocol_nurse_work(plan.protocol)
        violations = plan_rule_violations(plan=plan, starts_at=starts_at, phase=phase, site=site, now=now)
        if duration != chair_time:
            violations.append(
                f"the protocol's sessions take {plan.protocol.session_minutes} minutes in the chair; "
                f"this one {int(duration.total_seconds() // 60)}"
            )
        _check_rule_break(actor, violations, override_reason)
        route = plan.protocol.route
    else:
        require_screening_for_session(patient=patient, plan=None, site=site, now=now, actor=actor)
        phase = phase or Phase.INDUCTION
        duration = duration or dt.timedelta(minutes=120)
        work = protocol_nurse_work(None)
        # Not said: an infusion, unless the chair named is equipped for one other route only. The
        # session keeps it (Appointment.route), so a move looks for a chair equipped the same.
        if not route:
            only = chair.equipment if chair and len(chair.equipment or []) == 1 else []
            route = only[0] if only else Route.IV
        # A single session outside any plan is still the patient's infusion: never two on one day.
        violations = session_rule_violations(
            patient_id=patient.pk,
            plan=None,
            site=site,
            starts_at=starts_at,
            ends_at=starts_at + duration,
            phase=phase,
            now=now,
        )
        _check_rule_break(actor, violations, override_reason)
    if chair is not None and chair.site_id != site.pk:
        raise InvalidInput("That chair is at another site.")
    ends_at = starts_at + duration
    slot = _choose_slot(
        site=site,
        patient=patient,
        starts_at=starts_at,
        ends_at=ends_at,
        route=route,
        chair=chair,
        nurse=nurse,
        exclude_ids=[],
        work=work,
        now=now,
    )
    verify_slots(
        site=site, patient=patient, slots=[slot], route=route, chairs=[chair] if chair else None, work=work, now=now
    )
    round_ = plan.induction_round if plan else 1
    (appointment,) = insert_sessions(
        patient=patient,
        plan=plan,
        site=site,
        sessions=[PlannedSession(slot, phase=phase, induction_round=round_)],
        actor=actor,
        reason=(
            f"Held until {hold_until.isoformat()}"
            if hold_until
            else f"Booked{' (rule accepted: ' + override_reason + ')' if override_reason else ''}"
        ),
        hold_expires_at=hold_until,
        route=route,
    )
    if override_reason:
        appointment.rule_override_reason = override_reason
        save_with_history(appointment, fields=["rule_override_reason"], actor=actor, reason="Rule break accepted")
    if hold_until:
        return appointment
    if plan is not None and plan.status == PlanStatus.DRAFT:
        plan.status = PlanStatus.ACTIVE
        plan.version += 1
        save_with_history(plan, fields=["status", "version"], actor=actor, reason="Activated by the first booking")
    if plan is not None:
        # Under the plan's lock taken above: a make-up that makes the induction whole takes back
        # the flag its shortness raised.
        attention_when_course_whole(plan=plan, actor=actor, booked=appointment)
    reminders.reminders_schedule(appointment=appointment, now=now, just_inserted=True)
    return appointment


@transaction.atomic
def appointment_move(
    *,
    appointment: Appointment,
    starts_at: dt.datetime,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
    chair: Chair | None = None,
    nurse: StaffMember | None = None,
    override_reason: str = "",
    notice_before: dt.timedelta | None = None,
) -> Appointment:
    """Move a session; the plan's rules hold unless a prescriber accepts the break with a reason.

    With `notice_before` (the portal's notice period) the session may be moved only while it is
    at least that far away, and to a time at least that far away: checked here, on the locked
    row, because the desk may have moved the session since the caller read it."""
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("site", "plan__protocol", "plan__site", "patient")
        .get(pk=appointment.pk)
    )
    _require(appointment, UPCOMING_STATUSES, "move")
    require_works_at(actor, appointment.site)
    _require_override_right(actor, override_reason)
    if (
        starts_at == appointment.starts_at
        and (chair is None or chair.pk == appointment.chair_id)
        and (nurse is None or nurse.pk == appointment.nurse_id)
    ):
        # No move (a form sent twice): the patient's confirmation, the history and the reminders stay.
        return appointment
    if notice_before is not None and now >= appointment.starts_at - notice_before:
        raise InvalidState(
            f"This session is less than {_hours(notice_before)} hours away and can no longer be changed online; "
            "please call the clinic.",
            details={"starts_at": appointment.starts_at.isoformat()},
        )
    if starts_at <= now:
        raise InvalidInput("A session cannot be moved into the past.", details={"field": "starts_at"})
    if notice_before is not None and starts_at < now + notice_before:
        raise InvalidInput(
            f"Times less than {_hours(notice_before)} hours away cannot be booked online; please call the clinic.",
            details={"field": "starts_at"},
        )
    if chair is not None and chair.site_id != appointment.site_id:
        raise InvalidInput("That chair is at another site.")
    plan = appointment.plan
    if plan is not None and plan.status not in BOOKABLE_PLAN_STATUSES:
        raise InvalidState(f"The plan is {plan.get_status_display().lower()}; its sessions are not moved.")
    if starts_at != appointment.starts_at:
        # A new time is a new infusion slot, refused as booking refuses it while the screening
        # stops the patient (another chair or nurse at the same time is not).
        require_screening_for_session(
            patient=appointment.patient, plan=plan, site=appointment.site, now=now, actor=actor
        )
    route = appointment.session_route  # a single nasal-spray session stays in a chair equipped for it
    work = protocol_nurse_work(plan.protocol if plan else None)
    ends_at = starts_at + (appointment.ends_at - appointment.starts_at)
    # The plan's rules are about when a session is (its day, the gap, the window, the review date):
    # another chair or nurse at the same time breaks none of them anew, so the desk changes the chair
    # of a session a prescriber kept past the review date without a prescriber's reason.
    violations = (
        session_rule_violations(
            patient_id=appointment.patient_id,
            plan=plan,
            site=appointment.site,
            starts_at=starts_at,
            ends_at=ends_at,
            phase=appointment.phase,
            exclude_id=appointment.pk,
            now=now,
        )
        if starts_at != appointment.starts_at
        else []
    )
    _check_rule_break(actor, violations, override_reason)
    slot = _choose_slot(
        site=appointment.site,
        patient=appointment.patient,
        starts_at=starts_at,
        ends_at=ends_at,
        route=route,
        chair=chair,
        nurse=nurse,
        exclude_ids=[appointment.pk],
        work=work,
        now=now,
    )
    verify_slots(
        site=appointment.site,
        patient=appointment.patient,
        slots=[slot],
        route=route,
        exclude_ids=[appointment.pk],
        work=work,
        now=now,
    )
    old = local_label(appointment.starts_at, appointment.site)
    # Another chair or nurse at the same time is a change, not a move: the patient's time, their
    # confirmation and their reminders stay, and nobody is told the session moved.
    moved = slot.start != appointment.starts_at
    appointment.starts_at, appointment.ends_at = slot.start, slot.end
    appointment.chair_id, appointment.nurse_id = slot.chair_id, slot.nurse_id
    if moved:
        # A moved session needs confirming again.
        appointment.status = AppointmentStatus.BOOKED
        appointment.confirmed_at = None
    appointment.rule_override_reason = override_reason or appointment.rule_override_reason
    accepted = f"; rule accepted: {override_reason}" if override_reason else ""
    try:
        with transaction.atomic():
            save_with_history(
                appointment,
                fields=["starts_at", "ends_at", "chair", "nurse", "status", "confirmed_at", "rule_override_reason"],
                actor=actor,
                reason=(f"Moved from {old}" if moved else "Chair or nurse changed") + accepted,
            )
    except IntegrityError as exc:
        conflict = translate_integrity_error(exc)
        if conflict is None:
            raise
        raise conflict from exc
    if not moved:
        announce(appointment_changed, appointments=[appointment], actor=actor)
        return appointment
    if plan is not None:
        renumber(plan)
        appointment.refresh_from_db(fields=["sequence"])
    reminders.reminders_reschedule(appointment=appointment, now=now)
    announce(appointment_moved, appointments=[appointment], actor=actor)
    return appointment


def _transition(
    appointment: Appointment,
    *,
    allowed: tuple[str, ...],
    action: str,
    status: str,
    stamp: str | None,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
    reason: str,
) -> Appointment:
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.status == status:
        return appointment  # already done: a retry is harmless
    _require(appointment, allowed, action)
    appointment.status = status
    fields = ["status"]
    if stamp:
        setattr(appointment, stamp, now)
        fields.append(stamp)
    save_with_history(appointment, fields=fields, actor=actor, reason=reason)
    announce(appointment_changed, appointments=[appointment], actor=actor)
    return appointment


@transaction.atomic
def appointment_confirm(
    *, appointment: Appointment, actor: AbstractBaseUser | None, now: dt.datetime, via: str = "front desk"
) -> Appointment:
    return _transition(
        appointment,
        allowed=(AppointmentStatus.BOOKED,),
        action="confirm",
        status=AppointmentStatus.CONFIRMED,
        stamp="confirmed_at",
        actor=actor,
        now=now,
        reason=f"Confirmed via {via}",
    )


def check_in_window(appointment: Appointment) -> tuple[dt.datetime, dt.datetime]:
    """When the front desk may check this session in: its own local day at the site, from
    settings.CHECK_IN_OPENS_AT (local) to the next local midnight."""
    zone = appointment.site.zone
    day = local_day(appointment.starts_at, zone)
    midnight, next_midnight = day_bounds(day, zone)
    # On a spring-forward day the opening time may not exist; open at local midnight then.
    opens = local_instant(day, settings.CHECK_IN_OPENS_AT, zone) or midnight
    return min(opens, appointment.starts_at), next_midnight


@transaction.atomic
def appointment_check_in(*, appointment: Appointment, actor: AbstractBaseUser | None, now: dt.datetime) -> Appointment:
    """Mark the patient arrived. Only on the session's own day (site zone), so a session days
    ahead cannot be checked in, started and completed by a slip of the mouse."""
    current = Appointment.objects.select_for_update(of=("self",)).select_related("site", "plan").get(pk=appointment.pk)
    if (
        current.status in UPCOMING_STATUSES
        and current.plan is not None
        and current.plan.status not in BOOKABLE_PLAN_STATUSES
    ):
        # Pausing or ending a plan releases its sessions ahead; one that began a moment before
        # (the patient running late) is not given on a plan that no longer runs.
        raise InvalidState(
            f"The plan is {current.plan.get_status_display().lower()}; this session is not given. Cancel it, "
            "or ask a prescriber to resume the plan."
        )
    if current.status in UPCOMING_STATUSES:
        opens, closes = check_in_window(current)
        if not opens <= now < closes:
            raise CheckInNotOpen(
                f"Check-in for this session opens {local_label(opens, current.site)} and closes at the end of "
                f"that day; it is now {local_label(now, current.site)}.",
                details={"opens_at": opens.isoformat(), "closes_at": closes.isoformat()},
            )
    return _transition(
        current,
        allowed=UPCOMING_STATUSES,
        action="check in",
        status=AppointmentStatus.CHECKED_IN,
        stamp="checked_in_at",
        actor=actor,
        now=now,
        reason="Checked in",
    )


@transaction.atomic
def appointment_undo_check_in(
    *, appointment: Appointment, actor: AbstractBaseUser | None, reason: str, now: dt.datetime
) -> Appointment:
    """Undo a mistaken check-in: the session goes back to confirmed (or booked, if it never was
    confirmed), and the history says who undid it and why. Once the patient is in the chair
    the check-in is a fact, not a mistake, so it cannot be undone."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason for undoing the check-in; it is kept in the session's history.")
    current = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if current.status in UPCOMING_STATUSES:
        return current  # already undone: a retry is harmless
    _require(current, (AppointmentStatus.CHECKED_IN,), "undo the check-in of")
    appointment_releasing.send(sender=Appointment, appointment=current, now=now)  # clinical's gate
    current.status = AppointmentStatus.CONFIRMED if current.confirmed_at else AppointmentStatus.BOOKED
    current.checked_in_at = None
    save_with_history(current, fields=["status", "checked_in_at"], actor=actor, reason=f"Check-in undone: {reason}")
    announce(appointment_changed, appointments=[current], actor=actor)
    return current


@transaction.atomic
def appointment_start(*, appointment: Appointment, actor: AbstractBaseUser | None, now: dt.datetime) -> Appointment:
    appointment_starting.send(sender=Appointment, appointment=appointment, now=now)  # clinical's gate
    return _transition(
        appointment,
        allowed=(AppointmentStatus.CHECKED_IN,),
        action="start",
        status=AppointmentStatus.IN_CHAIR,
        stamp="in_chair_at",
        actor=actor,
        now=now,
        reason="In chair",
    )


@transaction.atomic
def appointment_complete(*, appointment: Appointment, actor: AbstractBaseUser | None, now: dt.datetime) -> Appointment:
    """Complete a session. Completing the last induction session moves the plan to maintenance
    and books maintenance sessions at the plan's interval up to the review date."""
    appointment_completing.send(sender=Appointment, appointment=appointment, now=now)  # clinical's gate
    done = _transition(
        appointment,
        allowed=(AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_CHAIR),
        action="complete",
        status=AppointmentStatus.COMPLETED,
        stamp="completed_at",
        actor=actor,
        now=now,
        reason="Completed",
    )
    if done.plan_id and done.phase == Phase.INDUCTION:
        plan = (
            TreatmentPlan.objects.select_for_update(of=PLAN_ROW).select_related("protocol", "site").get(pk=done.plan_id)
        )
        rule = induction_rule(plan.protocol)
        held = plan.appointments.filter(
            phase=Phase.INDUCTION, induction_round=plan.induction_round, status=AppointmentStatus.COMPLETED
        ).count()
        if plan.status == PlanStatus.ACTIVE and plan.phase == Phase.INDUCTION and held >= rule.total_sessions:
            plan_enter_maintenance(plan=plan, actor=actor, now=now)
    return done


@dataclass
class CancelOutcome:
    """What a cancellation did to the session and to its course, in words for the desk and the API."""

    appointment: Appointment
    # Induction sessions the round is now missing against the protocol (0 after a rebook).
    short_by: int = 0
    # Replacements booked because the caller asked for them (never otherwise).
    rebooked: list[Appointment] = field(default_factory=list)
    # Why the course site's placement policy chose each rebooked time (as `replacement_why`).
    rebooked_whys: list[str] = field(default_factory=list)
    # When nothing was rebooked: the first replacement that would fit, so the desk can offer it.
    replacement_starts_at: dt.datetime | None = None
    # Why the course site's placement policy chose that time: the reasons alone, in words ("the
    # earliest free time"; `course` names the time and chair); empty when there is none.
    replacement_why: str = ""
    # That replacement's chair and nurse, so it books exactly as offered (the booking API takes both).
    replacement_chair_id: int | None = None
    replacement_nurse_id: int | None = None
    plan_flagged: bool = False
    course: str = ""
    # Someone waits at the site for an earlier session: once the cancel commits, a task offers
    # them the freed chair if it suits them (scheduling/receivers.py, services/waitlist.py).
    waitlist_offered: bool = False

    @property
    def waitlist_note(self) -> str:
        return "Waiting patients it suits will be offered the freed chair." if self.waitlist_offered else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.course,
            "short_by": self.short_by,
            "rebooked": [
                {"id": a.pk, "starts_at": a.starts_at.isoformat(), "why": why or None}
                for a, why in zip(self.rebooked, self.rebooked_whys or [""] * len(self.rebooked), strict=True)
            ],
            "replacement_starts_at": self.replacement_starts_at.isoformat() if self.replacement_starts_at else None,
            "replacement_why": self.replacement_why or None,
            "replacement_chair": self.replacement_chair_id,
            "replacement_nurse": self.replacement_nurse_id,
            "plan_flagged": self.plan_flagged,
        }


@transaction.atomic
def appointment_note_add(
    *, appointment: Appointment, text: str, actor: AbstractBaseUser | None, prefix: str = ""
) -> Appointment:
    """Append one line to the session's notes (an outside system's comment, say), with history."""
    appointment = Appointment.objects.select_for_update(of=("self",)).get(pk=appointment.pk)
    require_works_at(actor, appointment.site)
    line = f"{prefix}{' '.join(text.split())}"[:1000]
    if not line.strip():
        raise InvalidInput("The note is empty.")
    appointment.notes = f"{appointment.notes}\n{line}" if appointment.notes else line
    save_with_history(appointment, fields=["notes"], actor=actor, reason="Note added")
    return appointment


RIDE_HOME_MAX_LENGTH = Appointment._meta.get_field("ride_home").max_length or 120
# A ride is arranged for a session still to come or under way; one that is over (completed,
# missed, cancelled) or only held by an outside system has nobody to drive home.
RIDE_STATUSES = (*UPCOMING_STATUSES, AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_CHAIR)


@transaction.atomic
def appointment_set_ride(
    *, appointment: Appointment, ride_home: str, actor: AbstractBaseUser | None, now: dt.datetime
) -> Appointment:
    """Record who drives the patient home after the session (the patient must not drive).
    Recording the driver already on record changes nothing and writes no history, so a retried
    call does no harm. `now` is taken for the services' common signature; the record has no stamp."""
    driver = (ride_home or "").strip()
    if not driver:
        raise InvalidInput(
            "Give who drives the patient home (a name, and who they are to the patient); "
            "the patient must not drive after the session.",
            details={"field": "ride_home"},
        )
    if len(driver) > RIDE_HOME_MAX_LENGTH:
        raise InvalidInput(
            f"Who drives the patient home takes at most {RIDE_HOME_MAX_LENGTH} characters "
            f"({len(driver)} given); shorten it and put the rest in the session's notes.",
            details={"field": "ride_home"},
        )
    appointment = Appointment.objects.select_for_update(of=("self",)).select_related("site").get(pk=appointment.pk)
    require_works_at(actor, appointment.site)
    _require(appointment, RIDE_STATUSES, "record the ride home of")
    if appointment.ride_home == driver:
        return appointment  # already on record: a retry is harmless
    appointment.ride_home = driver
    save_with_history(appointment, fields=["ride_home"], actor=actor, reason="Ride home recorded")
    return appointment


def online_cancel_deadline(appointment: Appointment) -> dt.datetime:
    """When a patient's own cancel closes: the site's notice period before the session (the
    reminder policy's `patient_notice_hours`); after it, the patient calls the clinic."""
    hours = appointment.site.reminder_policy_or_default.patient_notice_hours
    return appointment.starts_at - dt.timedelta(hours=hours)


def _require_patient_may_cancel(appointment: Appointment, *, now: dt.datetime) -> None:
    """The patient's limits, read under the session's row lock: the pages and the API check them
    first for a good answer, but the desk may check the patient in (a session the desk's own
    cancel still releases) between that read and this write."""
    if appointment.status not in UPCOMING_STATUSES:
        raise InvalidState(
            f"A session that is {appointment.get_status_display().lower()} cannot be cancelled online; "
            "please call the clinic.",
            details={"status": appointment.status},
        )
    require_online_cancel_open(appointment, now=now)


def require_online_cancel_open(appointment: Appointment, *, now: dt.datetime) -> None:
    """Refuses a patient's own cancel from the first instant of the notice period
    (`online_cancel_deadline`): the API checks it first for its answer, the service under its lock."""
    if now >= online_cancel_deadline(appointment):
        hours = appointment.site.reminder_policy_or_default.patient_notice_hours
        raise TooLateForOnlineChange(
            f"Online changes close {hours} hours before the session; please call the clinic.",
            details={"notice_hours": hours},
        )


@transaction.atomic
def appointment_cancel(
    *,
    appointment: Appointment,
    actor: AbstractBaseUser | None,
    reason: str,
    now: dt.datetime,
    rebook: bool = False,
    release_only: bool = False,
    released_with_plan: str = "",
    by_patient: bool = False,
) -> CancelOutcome:
    """Cancel a session: the chair is free at once and pending reminders are cancelled. Nothing is
    re-booked unless the caller asks (`rebook`); the outcome says what the course is now missing,
    and a short induction is flagged for the clinician. No other session of the course moves.

    `release_only` is for plan changes that release every future session at once (pause, end,
    new induction): the plan change itself says what happens to the course, and
    `released_with_plan` (a ReleasedWithPlan) tells the patient's notice which change it was.

    `by_patient` is the patient's own cancel (portal, reminder link, API): only an upcoming session,
    and only before the site's notice period (`online_cancel_deadline`)."""
    if not reason.strip():
        raise InvalidInput("Give a reason for the cancellation.")
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.status == AppointmentStatus.CANCELLED:
        return CancelOutcome(appointment=appointment, course="The session was already cancelled.")
    if by_patient:
        _require_patient_may_cancel(appointment, now=now)
    _require(appointment, (*UPCOMING_STATUSES, AppointmentStatus.CHECKED_IN, AppointmentStatus.HELD), "cancel")
    if appointment.status == AppointmentStatus.CHECKED_IN:
        appointment_releasing.send(sender=Appointment, appointment=appointment, now=now)  # clinical's gate
    was_held = appointment.status == AppointmentStatus.HELD
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancelled_at = now
    appointment.cancelled_by = acting_user(actor)
    appointment.cancellation_reason = reason
    appointment.released_with_plan = released_with_plan if release_only else ""
    save_with_history(
        appointment,
        fields=["status", "cancelled_at", "cancelled_by", "cancellation_reason", "released_with_plan"],
        actor=actor,
        reason=f"Cancelled: {reason}",
    )
    if was_held:
        # A hold was never a booking: no announcement, no reminders, no waitlist offer, nothing
        # lost from the course.
        if appointment.plan is not None:
            renumber(appointment.plan)
        return CancelOutcome(appointment=appointment, course="The hold was released.")
    # The waitlist hears this and, once the cancel commits, queues its offer task (scheduling/receivers.py).
    announce(appointment_cancelled, appointments=[appointment], actor=actor)
    reminders.reminders_cancel(appointment=appointment, now=now)
    if not appointment.plan_id:
        outcome = CancelOutcome(appointment=appointment, course="A single session, not part of a course.")
    else:
        outcome = _course_after_lost_session(
            appointment, actor=actor, now=now, rebook=rebook, release_only=release_only
        )
    outcome.waitlist_offered = (
        not release_only
        and appointment.starts_at > now
        and WaitlistEntry.objects.filter(site_id=appointment.site_id, status=WaitlistStatus.WAITING)
        .exclude(patient_id=appointment.patient_id)
        .exists()
    )
    return outcome


def _course_after_lost_session(
    appointment: Appointment,
    *,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
    rebook: bool,
    release_only: bool,
    happened: str = "cancelled",
) -> CancelOutcome:
    """What losing `appointment` (cancelled, or missed: `happened`) does to its course; a
    replacement is booked only when the caller asked (`rebook`), otherwise offered and flagged."""
    if appointment.plan_id is None:
        raise InvalidState("The session is not part of a course.")  # callers only pass course sessions
    plan = (
        TreatmentPlan.objects.select_for_update(of=PLAN_AND_PATIENT_ROWS)
        .select_related("protocol", "site", "patient")
        .get(pk=appointment.plan_id)
    )
    renumber(plan)
    if release_only:
        return CancelOutcome(appointment=appointment, course="Released with the plan's other future sessions.")
    in_induction = appointment.phase == Phase.INDUCTION and plan.status == PlanStatus.ACTIVE
    if not in_induction:
        return CancelOutcome(appointment=appointment, course="No other session of the course was changed.")
    screening = ""
    if rebook:
        # A replacement is a new booking: the screening holds for it as for any other.
        from scheduling.services.eligibility import require_eligible

        try:
            require_eligible(plan=plan, now=now, actor=actor)
        except NotEligible as refusal:
            rebook, screening = False, f" Not rebooked: {refusal.message}"
    if rebook:
        rebooked, whys = induction_reflow(plan=plan, missed=appointment, actor=actor, now=now)
        plan.refresh_from_db(fields=["needs_attention", "attention_reason", "version"])
        short_by = induction_short_by(plan)
        if short_by:
            course = f"No replacement fits the induction window; the induction is short by {short_by} and the plan is flagged for the clinician."
        else:
            course = (
                "Replacement booked: " + "; ".join(f"{why.at} ({why.because})" for why in whys) + "."
                if rebooked
                else "The induction is complete as booked."
            )
        return CancelOutcome(
            appointment=appointment,
            short_by=short_by,
            rebooked=rebooked,
            rebooked_whys=[why.because for why in whys],
            plan_flagged=bool(short_by),
            course=course,
        )
    short_by = induction_short_by(plan)
    if not short_by:
        return CancelOutcome(appointment=appointment, course="The induction is complete as booked.")
    proposal = induction_reflow_propose(plan=plan, missed=appointment, now=now)
    fits = proposal if proposal is not None and not isinstance(proposal, NoFit) else None
    slot = fits.slots[0] if fits is not None else None
    why = ""
    if fits is not None and slot is not None:
        at = local_label(slot.start, appointment.site)
        if fits.whys:
            at, why = fits.whys[0].at, fits.whys[0].because  # the time and chair; why apart
        offer = f"the first replacement that fits is {at}, not booked yet"
        if why:
            offer += f" (why this time: {why})"
    elif isinstance(proposal, NoFit):
        offer = f"no replacement fits the induction window ({proposal.reason.rstrip('.')})"
    else:
        offer = "no replacement fits the induction window"
    sessions = "session" if short_by == 1 else "sessions"
    course = f"Induction now short by {short_by} {sessions}; {offer}. The plan is flagged for the clinician.{screening}"
    flagged = "a cancellation" if happened == "cancelled" else "a missed session"
    flag_course_short(
        plan,
        attention=f"Session on {local_label(appointment.starts_at, appointment.site)} was {happened}: {course}",
        actor=actor,
        history=f"Flagged: induction short after {flagged}",
    )
    return CancelOutcome(
        appointment=appointment,
        short_by=short_by,
        replacement_starts_at=slot.start if slot is not None else None,
        replacement_why=why,
        replacement_chair_id=slot.chair_id if slot is not None else None,
        replacement_nurse_id=slot.nurse_id if slot is not None else None,
        plan_flagged=True,
        course=course,
    )


@transaction.atomic
def appointment_mark_no_show(
    *, appointment: Appointment, actor: AbstractBaseUser | None, now: dt.datetime, rebook: bool = False
) -> CancelOutcome:
    """Record that the patient did not come. As with a cancellation, nothing is re-booked unless
    the caller asks (`rebook`): the outcome says what the course is now missing and the first
    replacement that would fit, and a short induction is flagged for the clinician."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.status == AppointmentStatus.NO_SHOW:
        return CancelOutcome(appointment=appointment, course="The session was already marked as a no-show.")
    _require(appointment, UPCOMING_STATUSES, "mark as no-show")
    if appointment.starts_at > now:
        raise InvalidState("A session can be marked as a no-show only after its start time.")
    appointment.status = AppointmentStatus.NO_SHOW
    save_with_history(appointment, fields=["status"], actor=actor, reason="No-show")
    announce(appointment_no_show, appointments=[appointment], actor=actor)
    if not appointment.plan_id:
        return CancelOutcome(appointment=appointment, course="A single session, not part of a course.")
    return _course_after_lost_session(
        appointment, actor=actor, now=now, rebook=rebook, release_only=False, happened="missed"
    )
