"""Clinicians adjusting plans. Every change names who, when and why (the
plan's history keeps it), checks the version the editor read, and carries the
plan's future appointments along."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from dateutil.relativedelta import relativedelta
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet

from clinic.dates import require_clinical_dates
from clinic.models import Role, Site, StaffMember
from clinic.permissions import OutsideYourSites, require_prescriber, require_works_at, works_at
from patients.models import Patient
from scheduling.engine import Preferences, remaining_weekly_counts
from scheduling.engine.wallclock import day_bounds
from scheduling.errors import CourseDoesNotFit, InvalidInput, InvalidState, StaleVersion
from scheduling.models import (
    OPEN_PLAN_STATUSES,
    RELEASED_NEW_INDUCTION,
    RELEASED_PLAN_ENDED,
    RELEASED_PLAN_PAUSED,
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    Phase,
    PlanStatus,
    Protocol,
    ReleasedWithPlan,
    TreatmentPlan,
)
from scheduling.selectors import ResumeDays, plan_preferences, resume_days
from scheduling.services.appointments import appointment_cancel
from scheduling.services.core import PLAN_AND_PATIENT_ROWS, acting_user, local_label, save_with_history
from scheduling.services.courses import (
    MaintenanceReplan,
    course_book,
    course_propose,
    induction_site,
    maintenance_apply,
    maintenance_replan,
    plan_sessions_book,
)
from scheduling.services.courses import plan_enter_maintenance as plan_enter_maintenance
from scheduling.services.eligibility import patient_eligibility, require_eligible

# A session the patient has arrived for: a plan change reports it, never releases it.
_BEGUN = (AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_CHAIR)


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason for this change; it is kept in the plan's history.")
    return reason


# The prescriber's decisions about a course, as the refusal to anyone else names them (the chart
# names them the same when a change it does not offer is posted).
CHANGING_THE_INTERVAL = "Changing the maintenance interval"
CHANGING_THE_REVIEW_DATE = "Changing the review date"
ENDING_A_PLAN = "Ending a plan"
STARTING_A_NEW_INDUCTION = "Starting a new induction"


def _lock(plan: TreatmentPlan, expected_version: int | None) -> TreatmentPlan:
    locked = (
        TreatmentPlan.objects.select_for_update(of=PLAN_AND_PATIENT_ROWS)
        .select_related("protocol", "site", "patient")
        .get(pk=plan.pk)
    )
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersion.of_plan(current=locked.version, edited=expected_version)
    return locked


def _save(plan: TreatmentPlan, fields: list[str], *, actor: AbstractBaseUser | None, reason: str) -> None:
    plan.version += 1
    save_with_history(plan, fields=[*fields, "version"], actor=actor, reason=reason)


def _release_future(
    plan: TreatmentPlan, *, actor: AbstractBaseUser | None, now: dt.datetime, reason: str, why: ReleasedWithPlan
) -> int:
    # Latest first, so each released session keeps its number when the rest are renumbered. Holds
    # (an outside system's $hold) go too: booked later, they would put a session on a closed course.
    future = list(
        # A session begun a moment ago that the patient has not arrived for goes too.
        plan.appointments.filter(status__in=[*UPCOMING_STATUSES, AppointmentStatus.HELD], ends_at__gt=now).order_by(
            "-starts_at"
        )
    )
    for appointment in future:
        appointment_cancel(
            appointment=appointment, actor=actor, reason=reason, now=now, release_only=True, released_with_plan=why
        )
    return len(future)


@transaction.atomic
def plan_create(
    *,
    patient: Patient,
    protocol: Protocol,
    prescriber: StaffMember,
    start_date: dt.date,
    actor: AbstractBaseUser,
    site: Site | None = None,
    maintenance_interval_days: int | None = None,
    review_date: dt.date | None = None,
    preferences: Preferences | None = None,
) -> TreatmentPlan:
    if prescriber.role != Role.PRESCRIBER:
        raise InvalidInput(
            "A plan's prescriber must be a staff member with the prescriber role.", details={"field": "prescriber"}
        )
    require_clinical_dates(start_date=start_date, review_date=review_date)
    if not protocol.active:
        raise InvalidInput("That protocol is no longer in use.", details={"field": "protocol"})
    if TreatmentPlan.objects.filter(patient=patient, status__in=OPEN_PLAN_STATUSES).exists():
        raise InvalidState("The patient already has an open plan; end it before starting another.")
    interval = maintenance_interval_days or protocol.maintenance_default_days
    _check_interval(protocol, interval, field="maintenance_interval_days")
    # A plan's site is where its sessions will be booked: a member of staff plans only there, and
    # the prescriber answerable for it (named by a nurse who writes it up) works there too.
    require_works_at(actor, site or patient.home_site)
    if not prescriber.active or not works_at(prescriber, site or patient.home_site):
        raise InvalidInput(
            "The plan's prescriber must be an active prescriber at the plan's site.", details={"field": "prescriber"}
        )
    plan = TreatmentPlan(
        patient=patient,
        protocol=protocol,
        prescriber=prescriber,
        site=site or patient.home_site,
        start_date=start_date,
        maintenance_interval_days=interval,
        review_date=review_date or start_date + relativedelta(months=protocol.review_after_months),
        created_by=acting_user(actor),
    )
    if preferences is not None:
        plan.preferred_weekdays = sorted(preferences.weekdays)
        plan.earliest_start, plan.latest_start = preferences.earliest, preferences.latest
    if plan.review_date <= start_date:
        raise InvalidInput("The review date must be after the start date.")
    plan._change_reason = "Plan created"  # type: ignore[attr-defined]  # read by simple_history on save
    plan._history_user = actor  # type: ignore[attr-defined]
    plan.save()
    return plan


def _check_interval(protocol: Protocol, days: int, *, field: str) -> None:
    """`field`: the input that gave `days` (the API's and the page's name for it)."""
    if not protocol.maintenance_min_days <= days <= protocol.maintenance_max_days:
        raise InvalidInput(
            f"The maintenance interval must be between {protocol.maintenance_min_days} and "
            f"{protocol.maintenance_max_days} days for {protocol.name}.",
            details={"field": field},
        )


@transaction.atomic
def plan_change_interval(
    *,
    plan: TreatmentPlan,
    days: int,
    reason: str,
    actor: AbstractBaseUser,
    now: dt.datetime,
    expected_version: int | None = None,
) -> MaintenanceReplan:
    """Change the maintenance interval; returns what moved, was added or released."""
    require_prescriber(actor, CHANGING_THE_INTERVAL)
    reason = _require_reason(reason)
    plan = _lock(plan, expected_version)
    _check_interval(plan.protocol, days, field="days")
    if plan.status not in OPEN_PLAN_STATUSES:
        raise InvalidState(f"The plan is {plan.get_status_display().lower()}.")
    old = plan.maintenance_interval_days
    plan.maintenance_interval_days = days
    replan = MaintenanceReplan()
    if plan.status == PlanStatus.ACTIVE and plan.phase == Phase.MAINTENANCE:
        # Only unconfirmed future sessions move; past, checked-in and confirmed ones stay put.
        replan = maintenance_replan(
            plan=plan,
            actor=actor,
            now=now,
            reason=f"Maintenance interval changed to {days} days",
            interval_change=days - old,
        )
    _save(
        plan,
        ["maintenance_interval_days"],
        actor=actor,
        # Each moved session's own history says where it went.
        reason=f"Interval {old} → {days} days ({replan.counts()}): {reason}",
    )
    return replan


@transaction.atomic
def plan_change_review_date(
    *,
    plan: TreatmentPlan,
    review_date: dt.date,
    reason: str,
    actor: AbstractBaseUser,
    now: dt.datetime,
    expected_version: int | None = None,
) -> TreatmentPlan:
    require_prescriber(actor, CHANGING_THE_REVIEW_DATE)
    reason = _require_reason(reason)
    plan = _lock(plan, expected_version)
    if plan.status not in OPEN_PLAN_STATUSES:
        raise InvalidState(f"The plan is {plan.get_status_display().lower()}; its review date stays as it was.")
    if review_date <= plan.start_date:
        raise InvalidInput("The review date must be after the plan's start date.")
    old = plan.review_date
    plan.review_date = review_date
    zone = plan.site.zone
    # The course stops at its review date in either phase: a date brought into the induction ends
    # the induction there too, so every session of the plan on a later day is looked at, not only
    # maintenance: one booked or confirmed if it is still ahead, one begun (checked in, in the chair)
    # whenever it started, and a hold (an outside system's $hold), as pausing and ending release them.
    # A session that began a moment ago without the patient goes too, as when pausing or ending
    # (`_release_future`). A date moved later releases nothing: a session after it was already after
    # the old date, where only a prescriber's accepted break put it.
    _, review_day_end = day_bounds(review_date, zone)
    after_review = (
        list(
            plan.appointments.filter(starts_at__gte=review_day_end)
            .filter(
                Q(status__in=UPCOMING_STATUSES, ends_at__gt=now)
                | Q(status=AppointmentStatus.HELD, ends_at__gt=now)
                | Q(status__in=_BEGUN)
            )
            .order_by("-starts_at")
        )
        if review_date < old
        else []
    )
    # A date brought forward (a dependence concern) ends the course there: the sessions after it that
    # the patient has not confirmed are released, latest first so the rest keep their numbers, and so
    # are the holds (booked later, they would put a session past the end of the course). One the
    # patient confirmed stays booked and the plan is flagged: the prescriber decides (cancel it, or
    # keep it) rather than the patient losing an agreed date without anyone deciding it. One already
    # begun is never cancelled from here (the patient is in the clinic): it is flagged too.
    # One a prescriber accepted against the plan's rules (`rule_override_reason`) was their decision:
    # kept and flagged, as a confirmed one is.
    released = [
        a
        for a in after_review
        if a.status == AppointmentStatus.HELD or (a.status == AppointmentStatus.BOOKED and not a.rule_override_reason)
    ]
    for appointment in released:
        appointment_cancel(
            appointment=appointment,
            actor=actor,
            reason=f"After the plan's new review date ({review_date:%a %-d %b %Y})",
            now=now,
            release_only=True,
            released_with_plan=ReleasedWithPlan.RESCHEDULED,
        )
    confirmed = sorted((a for a in after_review if a.status == AppointmentStatus.CONFIRMED), key=lambda a: a.starts_at)
    begun = sorted((a for a in after_review if a.status in _BEGUN), key=lambda a: a.starts_at)
    accepted = sorted(
        (a for a in after_review if a.status == AppointmentStatus.BOOKED and a.rule_override_reason),
        key=lambda a: a.starts_at,
    )
    _save(
        plan,
        ["review_date"],
        actor=actor,
        reason=f"Review date {old} → {review_date} ({len(released)} sessions after it released): {reason}",
    )
    if plan.status == PlanStatus.ACTIVE and plan.phase == Phase.MAINTENANCE:
        maintenance_apply(plan=plan, actor=actor, now=now, reason="Review date changed")
    kept: list[str] = []
    if confirmed:
        kept.append(
            f"the patient confirmed {_sessions_after(confirmed, plan.site)}: cancel {_them(confirmed)}, "
            f"or keep {_them(confirmed)} as a prescriber's decision"
        )
    if accepted:
        kept.append(
            f"a prescriber accepted {_sessions_after(accepted, plan.site)} against the plan's rules: cancel "
            f"{_them(accepted)}, or keep {_them(accepted)}"
        )
    if begun:
        kept.append(
            f"{_sessions_after(begun, plan.site)} {'has' if len(begun) == 1 else 'have'} already begun (the patient "
            f"is checked in or in the chair) and {'was' if len(begun) == 1 else 'were'} not cancelled: let "
            f"{_them(begun)} go ahead, or stop {_them(begun)}, as a prescriber's decision"
        )
    if kept:
        _flag(
            plan,
            actor=actor,
            attention=f"The review date is now {review_date:%a %-d %b %Y}, but {'; and '.join(kept)}.",
            history="Flagged: sessions kept after the review date",
        )
    return plan


def _sessions_after(appointments: list[Appointment], site: Site) -> str:
    """'2 sessions after it (Mon 4 May 2026 10:00, ...)': how many, and when at `site`."""
    when = ", ".join(local_label(a.starts_at, site) for a in appointments)
    return f"{len(appointments)} session{'s' if len(appointments) != 1 else ''} after it ({when})"


def _them(appointments: list[Appointment]) -> str:
    return "them" if len(appointments) != 1 else "it"


@transaction.atomic
def plan_pause(
    *, plan: TreatmentPlan, reason: str, actor: AbstractBaseUser, now: dt.datetime, expected_version: int | None = None
) -> TreatmentPlan:
    """Pause (illness, travel): future sessions are released and their reminders cancelled."""
    reason = _require_reason(reason)
    plan = _lock(plan, expected_version)
    if plan.status != PlanStatus.ACTIVE:
        raise InvalidState(f"Only an active plan can be paused; this one is {plan.get_status_display().lower()}.")
    # The sessions say what happened; why (a clinical reason) stays with the plan, for clinicians.
    released = _release_future(plan, actor=actor, now=now, reason=RELEASED_PLAN_PAUSED, why=ReleasedWithPlan.PAUSED)
    plan.status, plan.paused_at = PlanStatus.PAUSED, now
    _save(plan, ["status", "paused_at"], actor=actor, reason=f"Paused ({released} sessions released): {reason}")
    return plan


def usual_preferences(plan: TreatmentPlan, base: Preferences, *, site: Site | None = None) -> Preferences:
    """The patient's usual weekdays and start time, from the sessions they attended (in the zone of
    `site`, the plan's by default: where the sessions asked for will be), within the plan's own
    preferences; the plan's preferences when there is no history."""
    zone = (site or plan.site).zone
    attended = [
        a.starts_at.astimezone(zone)
        for a in plan.appointments.filter(status=AppointmentStatus.COMPLETED).order_by("starts_at")
    ]
    if not attended:
        return base
    weekdays = frozenset(local.weekday() for local in attended) & base.weekdays or base.weekdays
    usual_time = Counter(local.time().replace(second=0, microsecond=0) for local in attended).most_common(1)[0][0]
    return Preferences(weekdays=weekdays, earliest=usual_time, latest=base.latest)


@transaction.atomic
def plan_resume(
    *,
    plan: TreatmentPlan,
    resume_date: dt.date,
    reason: str,
    actor: AbstractBaseUser,
    now: dt.datetime,
    expected_version: int | None = None,
) -> list[Appointment]:
    """Resume from `resume_date`: the rest of the induction, or maintenance, is proposed and booked
    again in the protocol's shape (the rest of a 3-2-1-1-1 keeps its weekly tail) on the patient's
    usual weekdays and time where they fit; the rest of an induction at the course's site
    (`induction_site`) under its policy, which a member of staff who does not work there may not
    resume (OutsideYourSites). If the induction does not fit, nothing changes and CourseDoesNotFit
    says why."""
    reason = _require_reason(reason)
    plan = _lock(plan, expected_version)
    if plan.status != PlanStatus.PAUSED:
        raise InvalidState("Only a paused plan can be resumed.")
    # A pause is often an illness: what screening says now decides, as for a new course.
    require_eligible(plan=plan, now=now, actor=actor)
    held = _induction_held(plan)
    remaining = plan.protocol.induction_session_count - held
    fields = ["status", "paused_at"]
    if plan.phase == Phase.INDUCTION and remaining <= 0:
        # Every induction session was held during the pause (one already begun when it was paused):
        # the plan resumes in maintenance, spaced as maintenance from the last session held, and
        # nothing is laid out before the resume date (the patient said they are away until then).
        # Entering maintenance lays out sessions at the prescriber's interval up to the review date: a
        # clinical decision, the prescriber's, though a nurse may resume a plan that stays in its phase.
        require_prescriber(actor, "Resuming this plan into maintenance (its induction was completed during the pause)")
        plan.phase = Phase.MAINTENANCE
        fields.append("phase")
    # The rest of an induction goes where the course is (resume_site), under that site's policy.
    # Asked before anything is written, so a refusal leaves the plan paused and its sessions as they were.
    course_site = resume_site(plan)
    elsewhere = resume_elsewhere(plan, getattr(actor, "staff", None), course_site)
    if elsewhere:
        raise OutsideYourSites(f"{elsewhere} The plan stays paused.")
    spacing = resume_days(plan)
    if spacing.earliest is not None and spacing.last_held is not None and resume_date < spacing.earliest:
        raise InvalidInput(
            f"Resume on or after {spacing.earliest:%a %-d %b %Y}: the protocol needs at least {spacing.min_days} days "
            f"after the last session held ({spacing.last_held:%a %-d %b}).",
            details={"earliest": spacing.earliest.isoformat(), "field": "from_date"},
        )
    plan.status, plan.paused_at = PlanStatus.ACTIVE, None
    entered = "; induction complete, maintenance begins" if "phase" in fields else ""
    _save(plan, fields, actor=actor, reason=f"Resumed from {resume_date}{entered}: {reason}")
    base = plan_preferences(plan)
    usual = usual_preferences(plan, base, site=course_site)
    if plan.phase == Phase.INDUCTION:
        weekly = (
            remaining_weekly_counts(plan.protocol.weekly_counts, held)
            if plan.protocol.induction_pattern == Protocol.InductionPattern.WEEKLY
            else None
        )
        try:
            proposal = course_propose(
                plan=plan,
                start_date=resume_date,
                now=now,
                prefs=usual,
                sessions_needed=remaining,
                weekly_counts=weekly,
                site=course_site,
                actor=actor,
            )
        except CourseDoesNotFit:
            if usual == base:
                raise
            # The usual days and time are full: any time the plan allows, rather than no course.
            proposal = course_propose(
                plan=plan,
                start_date=resume_date,
                now=now,
                prefs=base,
                sessions_needed=remaining,
                weekly_counts=weekly,
                site=course_site,
                actor=actor,
            )
        # The course stops at its review date in its induction too: course_propose proposes no rest of
        # the induction that runs past it (CourseDoesNotFit, the plan stays paused) until a prescriber
        # sets a later review date.
        return plan_sessions_book(
            plan=plan,
            site=proposal.site,
            slots=[s.slot for s in proposal.sessions],
            phase=Phase.INDUCTION,
            actor=actor,
            now=now,
            reason=f"Resumed: {reason}",
        )
    # The first maintenance session falls on the first usual weekday from `resume_date`, at the usual time.
    first_day = next(
        day for day in (resume_date + dt.timedelta(days=i) for i in range(7)) if day.weekday() in usual.weekdays
    )
    anchor_day = first_day - dt.timedelta(days=plan.maintenance_interval_days)
    anchor = dt.datetime.combine(anchor_day, usual.earliest or dt.time(12), tzinfo=plan.site.zone)
    replan = maintenance_replan(
        plan=plan,
        actor=actor,
        now=now,
        reason=f"Resumed: {reason}",
        anchor=anchor,
        prefs=Preferences(weekdays=base.weekdays, earliest=usual.earliest or base.earliest, latest=base.latest),
        first_day=resume_date,
    )
    if not replan.created and not replan.problems and not _upcoming_maintenance(plan, now=now).exists():
        # Nothing could be laid out and nothing failed to fit: the course has reached its review
        # date. Say so, rather than resume into a plan with no session and no word why.
        passed = "has passed" if resume_date > plan.review_date else "falls before the next maintenance session is due"
        _flag(
            plan,
            actor=actor,
            attention=(
                f"Resumed from {resume_date:%a %-d %b %Y}, but the plan's review date ({plan.review_date:%a %-d %b %Y}) "
                f"{passed}: no maintenance session was booked. A prescriber reviews the course and sets a new "
                "review date to continue it."
            ),
            history="Flagged: resumed at the review date",
        )
    return replan.created


def _induction_held(plan: TreatmentPlan) -> int:
    """How many sessions of the plan's current induction round were given."""
    return plan.appointments.filter(
        phase=Phase.INDUCTION, induction_round=plan.induction_round, status=AppointmentStatus.COMPLETED
    ).count()


def resume_enters_maintenance(plan: TreatmentPlan) -> bool:
    """Whether resuming the paused `plan` moves it into maintenance, as plan_resume does: every session
    of its induction was held (the last during the pause). A prescriber's decision."""
    return plan.phase == Phase.INDUCTION and _induction_held(plan) >= plan.protocol.induction_session_count


def resume_site(plan: TreatmentPlan) -> Site:
    """Where resuming the paused `plan` books the rest of it: the rest of an induction where the
    course is (`induction_site`: where its sessions were booked, maybe not the plan's site), as its
    make-ups and re-flows do, since a course is booked at one site; maintenance at the plan's site."""
    if plan.phase == Phase.INDUCTION and not resume_enters_maintenance(plan):
        return induction_site(plan)
    return plan.site


def resume_elsewhere(plan: TreatmentPlan, staff: StaffMember | None, course_site: Site | None = None) -> str:
    """Why `staff` may not resume the paused `plan` (plan_resume refuses them): the rest of its course is
    booked at a site (resume_site, or `course_site` when the caller has it) that is not the plan's and
    where they do not work. Empty when they may."""
    course_site = course_site or resume_site(plan)
    if course_site.pk == plan.site_id or staff is None or works_at(staff, course_site):
        return ""
    return (
        f"This plan's induction course is at {course_site.name}, where its sessions were booked, and the rest "
        f"of it is booked there: someone who works at {course_site.name} resumes the plan."
    )


def resume_spacing(plan: TreatmentPlan) -> ResumeDays:
    """How far from the last session held the paused `plan` may resume (resume_days), in the phase the
    resume enters, as plan_resume checks it: a plan whose induction was all held during the pause
    resumes into maintenance, spaced as maintenance (the pages suggest a resume date from this)."""
    return resume_days(plan, phase=Phase.MAINTENANCE if resume_enters_maintenance(plan) else None)


def _upcoming_maintenance(plan: TreatmentPlan, *, now: dt.datetime) -> QuerySet[Appointment]:
    return plan.appointments.filter(phase=Phase.MAINTENANCE, status__in=UPCOMING_STATUSES, starts_at__gt=now)


def _flag(plan: TreatmentPlan, *, actor: AbstractBaseUser | None, attention: str, history: str) -> None:
    """Flag the plan for the clinician; a reason already standing (not yet reviewed) is kept before it."""
    if plan.needs_attention and plan.attention_reason and attention not in plan.attention_reason:
        attention = f"{plan.attention_reason.rstrip('.')}. {attention}"
    plan.needs_attention, plan.attention_reason = True, attention
    _save(plan, ["needs_attention", "attention_reason"], actor=actor, reason=history)


@transaction.atomic
def plan_end(
    *, plan: TreatmentPlan, reason: str, actor: AbstractBaseUser, now: dt.datetime, expected_version: int | None = None
) -> TreatmentPlan:
    require_prescriber(actor, ENDING_A_PLAN)
    reason = _require_reason(reason)
    plan = _lock(plan, expected_version)
    if plan.status not in OPEN_PLAN_STATUSES:
        raise InvalidState(f"The plan is already {plan.get_status_display().lower()}.")
    released = _release_future(plan, actor=actor, now=now, reason=RELEASED_PLAN_ENDED, why=ReleasedWithPlan.ENDED)
    plan.status, plan.ended_at, plan.end_reason = PlanStatus.ENDED, now, reason
    _save(
        plan,
        ["status", "ended_at", "end_reason"],
        actor=actor,
        reason=f"Ended early ({released} sessions released): {reason}",
    )
    return plan


@transaction.atomic
def plan_new_induction(
    *,
    plan: TreatmentPlan,
    start_date: dt.date,
    reason: str,
    actor: AbstractBaseUser,
    now: dt.datetime,
    expected_version: int | None = None,
) -> list[Appointment]:
    """After a relapse: future maintenance is released and a new induction course is booked,
    all or nothing."""
    require_prescriber(actor, STARTING_A_NEW_INDUCTION)
    reason = _require_reason(reason)
    plan = _lock(plan, expected_version)
    if plan.status not in (PlanStatus.ACTIVE, PlanStatus.PAUSED):
        raise InvalidState("A new induction needs an active or paused plan.")
    _release_future(plan, actor=actor, now=now, reason=RELEASED_NEW_INDUCTION, why=ReleasedWithPlan.REPLACED)
    plan.induction_round += 1
    plan.phase, plan.status, plan.paused_at = Phase.INDUCTION, PlanStatus.ACTIVE, None
    _save(
        plan,
        ["induction_round", "phase", "status", "paused_at"],
        actor=actor,
        reason=f"New induction from {start_date}: {reason}",
    )
    return course_book(plan=plan, actor=actor, now=now, start_date=start_date, reason=f"New induction: {reason}")


@transaction.atomic
def plan_clear_attention(
    *, plan: TreatmentPlan, reason: str, actor: AbstractBaseUser, expected_version: int | None = None
) -> TreatmentPlan:
    reason = _require_reason(reason)
    plan = _lock(plan, expected_version)
    plan.needs_attention, plan.attention_reason = False, ""
    _save(plan, ["needs_attention", "attention_reason"], actor=actor, reason=f"Reviewed: {reason}")
    return plan


@transaction.atomic
def plan_override_eligibility(
    *, plan: TreatmentPlan, reason: str, actor: AbstractBaseUser, now: dt.datetime, expected_version: int | None = None
) -> TreatmentPlan:
    """A prescriber documents the decision to treat despite a screening flag."""
    require_prescriber(actor, "Overriding the screening")
    reason = _require_reason(reason)
    staff = actor.staff  # type: ignore[attr-defined]  # require_prescriber found it
    plan = _lock(plan, expected_version)
    if plan.status not in OPEN_PLAN_STATUSES:
        # A decision to treat belongs to a course that can still treat, not to a closed one's history.
        raise InvalidState(
            f"The plan is {plan.get_status_display().lower()}; a screening override is recorded only on an open plan."
        )
    screening = patient_eligibility(patient=plan.patient, on=now.astimezone(plan.site.zone).date())
    if screening.eligible:
        raise InvalidState("The screening allows treatment; there is nothing to override.")
    # The override is for what screening says now; a reason found later needs a new one.
    plan.eligibility_override_by, plan.eligibility_override_reason, plan.eligibility_override_at = staff, reason, now
    plan.eligibility_override_covers = screening.keys
    _save(
        plan,
        [
            "eligibility_override_by",
            "eligibility_override_reason",
            "eligibility_override_at",
            "eligibility_override_covers",
        ],
        actor=actor,
        reason=f"Screening override: {reason}",
    )
    if (
        plan.status == PlanStatus.ACTIVE
        and plan.phase == Phase.MAINTENANCE
        and not _upcoming_maintenance(plan, now=now).exists()
    ):
        # The screening had stopped maintenance being laid out (courses.SCREENING_STOPS_MAINTENANCE).
        maintenance_apply(plan=plan, actor=actor, now=now, reason="Maintenance scheduled after the screening override")
    return plan
