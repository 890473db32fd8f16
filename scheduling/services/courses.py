"""Whole courses: propose an induction, book it all or nothing, re-flow a
missed induction session, and lay out maintenance sessions."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Case, Count, F, Q, Value, When

from clinic.models import Site
from clinic.permissions import require_works_at, works_at
from scheduling.engine import (
    Availability,
    DayProblem,
    InductionRule,
    NoFit,
    Preferences,
    Proposal,
    Slot,
    Span,
    find_alternatives,
)
from scheduling.engine.model import DEFAULT_NURSE_WORK, NurseWork, Why, day_label
from scheduling.engine.placement import (
    Placement,
    Placer,
    propose_additional_placed,
    propose_induction_placed,
    propose_maintenance_placed,
)
from scheduling.engine.planner import sessions_text
from scheduling.engine.wallclock import day_bounds, local_day
from scheduling.errors import CourseDoesNotFit, InvalidInput, InvalidState, PlanRuleBroken
from scheduling.models import (
    BOOKABLE_PLAN_STATUSES,
    INFUSION_STATUSES,
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    Phase,
    PlanStatus,
    ReleasedWithPlan,
    TreatmentPlan,
)
from scheduling.reminders import services as reminders
from scheduling.selectors import (
    booking_snapshot,
    induction_rule,
    infusions_so_far,
    maintenance_rule,
    patient_busy_spans,
    plan_preferences,
    protocol_nurse_work,
    site_placement,
    site_snapshot,
)
from scheduling.services.core import (
    PLAN_AND_PATIENT_ROWS,
    PlannedSession,
    insert_sessions,
    local_label,
    renumber,
    save_with_history,
    verify_slots,
)
from scheduling.signals import announce, appointment_cancelled, appointment_changed, appointment_moved

# How far ahead alternatives look for a later start.
ALTERNATIVE_START_DAYS = 28


@dataclass
class ProposedSession:
    sequence: int
    phase: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    chair_id: int
    nurse_id: int
    site_id: int
    # Why the placement policy chose this time, in words: its time and chair, then the reasons
    # (empty for sessions a client sent); `because`, the reasons alone, for a line that names the time.
    why: str = ""
    because: str = ""

    @property
    def slot(self) -> Slot:
        return Slot(self.starts_at, self.ends_at, self.chair_id, self.nurse_id)

    def as_alternative(self) -> dict[str, Any]:
        """The session as an alternative a refusal offers (`CourseDoesNotFit.details["alternatives"]`):
        the fields and formats of a proposal's sessions in the API, so a client books one as it is."""
        return {
            "sequence": self.sequence,
            "phase": self.phase,
            "starts_at": _utc(self.starts_at),
            "ends_at": _utc(self.ends_at),
            "chair": self.chair_id,
            "nurse": self.nurse_id,
            "site": self.site_id,
            # Why the site's policy chose the time: its time and chair, then the reasons; and the
            # reasons alone (`because`).
            "why": self.why,
            "because": self.because,
        }

    @classmethod
    def from_alternative(cls, session: dict[str, Any]) -> ProposedSession:
        """One session of an alternative a refusal offers (`CourseDoesNotFit.details["alternatives"]`,
        the fields and formats of a proposal's sessions), to book as it is."""

        def instant(text: str) -> dt.datetime:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))

        return cls(
            sequence=session["sequence"],
            phase=session["phase"],
            starts_at=instant(session["starts_at"]),
            ends_at=instant(session["ends_at"]),
            chair_id=session["chair"],
            nurse_id=session["nurse"],
            site_id=session["site"],
            why=session.get("why", ""),
            because=session.get("because", ""),
        )


@dataclass
class CourseProposal:
    site: Site
    sessions: list[ProposedSession]
    notes: list[str] = field(default_factory=list)
    # The notes as a patient reads them (Proposal.notes_for_patient): without the placement's reasons.
    patient_notes: list[str] = field(default_factory=list)


def _availability(
    plan: TreatmentPlan,
    site: Site,
    first_day: dt.date,
    last_day: dt.date,
    work: NurseWork = DEFAULT_NURSE_WORK,
    *,
    now: dt.datetime,
    closure_reasons: bool = True,
) -> Availability:
    """What is free for the plan's patient at `site` from `first_day` to `last_day` (a hold lapsed
    by `now` is free; the closures without their reasons unless `closure_reasons`)."""
    start, _ = day_bounds(first_day, site.zone)
    _, end = day_bounds(last_day, site.zone)
    snapshot, busy = booking_snapshot(
        site=site, start=start, end=end, patient=plan.patient, now=now, closure_reasons=closure_reasons
    )
    return Availability(snapshot, _kept_apart(busy, plan=plan, zone=site.zone), work)


def _kept_apart(busy: list[Span], *, plan: TreatmentPlan, zone: ZoneInfo) -> list[Span]:
    """The patient's other infusions `busy`, widened to what a session of `plan` keeps clear of:
    never on the same local day, and its start never within the protocol's gap of theirs. A
    session of the protocol's length starting less than `gap` after `span` overlaps
    [span.start, span.start + gap); one starting less than `gap` before it overlaps
    [span.start - gap + length, ...), which is span.end - gap for a span of that length."""
    gap = dt.timedelta(hours=plan.protocol.min_gap_hours)
    length = dt.timedelta(minutes=plan.protocol.session_minutes)
    return [
        Span(
            min(day_bounds(local_day(span.start, zone), zone)[0], span.start - gap + length),
            max(day_bounds(local_day(span.start, zone), zone)[1], span.start + gap),
        )
        for span in busy
    ]


def _as_sessions(proposal: Proposal, site: Site, phase: str, first_sequence: int) -> list[ProposedSession]:
    whys = proposal.whys or [Why(at="", because="")] * len(proposal.slots)
    return [
        ProposedSession(
            sequence=first_sequence + index,
            phase=phase,
            starts_at=slot.start,
            ends_at=slot.end,
            chair_id=slot.chair_id,
            nurse_id=slot.nurse_id,
            site_id=site.pk,
            why=str(why) if why.because else "",
            because=why.because,
        )
        for index, (slot, why) in enumerate(zip(proposal.slots, whys, strict=True))
    ]


def _refuse_second_induction(plan: TreatmentPlan) -> None:
    if plan.phase == Phase.MAINTENANCE:
        # Another induction for a maintenance patient restarts their treatment: the prescriber
        # decides that with plan_new_induction, which also opens a new round.
        raise InvalidState("This plan is in maintenance; a new induction is a prescriber's decision.")


def course_propose(
    *,
    plan: TreatmentPlan,
    start_date: dt.date,
    now: dt.datetime,
    prefs: Preferences | None = None,
    site: Site | None = None,
    sessions_needed: int | None = None,
    weekly_counts: Sequence[int] | None = None,
    preferred_starts: dict[int, frozenset[dt.time]] | None = None,
    actor: AbstractBaseUser | None = None,
    not_after: dt.datetime | None = None,
    closure_reasons: bool = True,
) -> CourseProposal:
    """Every induction session from `start_date`, or CourseDoesNotFit with the reasons and the
    nearest alternatives (a later start, another site the `actor` works at, other times). Never a
    partial course.

    The times are chosen by the site's placement policy (`Site.placement_policy`), each
    session with why, and so are an alternative's; `preferred_starts` (chair id -> local
    starts of a day template) overrides the site's template. With `not_after` (a FHIR timing's
    bounds end) level placement moves no session past it when the earliest course ends by it
    (`propose_induction_placed`); the caller refuses a course that ends after it. Without
    `closure_reasons` (words for a patient) the closures are read without their reasons, so no note
    or refusal names one."""
    _refuse_second_induction(plan)
    site = site or plan.site
    if site.pk != plan.site_id:
        # Proposed elsewhere for the staff member asking only at a site of theirs, as course_book
        # books (the API's serializer and the booking page check it before; no caller may skip it).
        require_works_at(actor, site)
    prefs = prefs or plan_preferences(plan)
    rule = induction_rule(plan.protocol)
    if weekly_counts is not None:
        # The rest of a weekly pattern keeps its shape (e.g. the 3-2-1-1-1 weekly tail).
        rule = InductionRule(
            session_length=rule.session_length,
            min_gap=rule.min_gap,
            route=rule.route,
            weekly_counts=tuple(weekly_counts),
        )
    elif sessions_needed is not None and sessions_needed != rule.total_sessions:
        rule = type(rule)(
            session_length=rule.session_length,
            min_gap=rule.min_gap,
            route=rule.route,
            sessions=sessions_needed,
            window_days=rule.span_days,
        )
    if start_date < local_day(now, site.zone):
        raise InvalidInput("The course cannot start in the past.")
    # The course's first session keeps the protocol's gap from the infusion before it (one held this
    # morning, or the last one before a pause), as the sessions keep it from each other.
    held, last = infusions_so_far(
        patient_id=plan.patient_id, plan_id=plan.pk, before=day_bounds(start_date, site.zone)[1]
    )
    not_before = max(now, last + rule.min_gap) if last is not None else now
    # The texts are read in the year of the caller's now, which not_before may have left behind.
    this_year = local_day(now, site.zone).year
    horizon = start_date + dt.timedelta(days=7 + rule.span_days)
    availability = _availability(
        plan, site, start_date, horizon, protocol_nurse_work(plan.protocol), now=now, closure_reasons=closure_reasons
    )
    placement = site_placement(site, patient=plan.patient, preferred_starts=preferred_starts)
    # The course stops at the plan's review date: level placement moves no session past it, and a
    # course that cannot end by it is not proposed (course_book would refuse it).
    review_end = day_bounds(plan.review_date, site.zone)[1]
    outcome = propose_induction_placed(
        Placer(availability, placement),
        rule,
        start_date,
        prefs,
        not_before=not_before,
        not_after=min(not_after, review_end) if not_after is not None else review_end,
        this_year=this_year,
    )
    if isinstance(outcome, Proposal):
        past_review = review_date_problems(plan=plan, slots=outcome.slots, site=site)
        if not past_review:
            return CourseProposal(
                site=site,
                sessions=_as_sessions(outcome, site, Phase.INDUCTION, held + 1),
                notes=outcome.notes,
                patient_notes=outcome.notes_for_patient,
            )
        # The course would run past the review date: refused as a course that does not fit, with the
        # nearest alternatives that end by it (other days and times, a later start, another site).
        outcome = NoFit(
            reason=f"The course would run past the plan's review date: {past_review[0]}.",
            placed=0,
            needed=rule.total_sessions,
        )
    else:
        outcome = _stopped_by_review_date(outcome, plan=plan)
    raise _does_not_fit(
        plan=plan,
        site=site,
        rule=rule,
        start_date=start_date,
        prefs=prefs,
        now=not_before,
        this_year=this_year,
        nofit=outcome,
        placement=placement,
        actor=actor,
        closure_reasons=closure_reasons,
    )


def _utc(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _stopped_by_review_date(nofit: NoFit, *, plan: TreatmentPlan) -> NoFit:
    """A course that does not fit where the days it needed run past the plan's review date: the
    refusal names the date, and each day after it gives the date as its reason, whatever else is
    missing there (no nurse on shift, as the demo has none after a plan's review date): a session
    there is refused for the date in any case, and the desk's way out is a prescriber's later date."""
    if not any(problem.day > plan.review_date for problem in nofit.problems):
        return nofit
    after_review = review_date_violation(plan)
    return NoFit(
        reason=(
            f"{nofit.reason} The course stops at the plan's review date, {plan.review_date:%a %-d %b %Y} "
            "(a prescriber may set a later one)."
        ),
        placed=nofit.placed,
        needed=nofit.needed,
        problems=[
            DayProblem(problem.day, after_review) if problem.day > plan.review_date else problem
            for problem in nofit.problems
        ],
    )


def _does_not_fit(
    *,
    plan: TreatmentPlan,
    site: Site,
    rule: InductionRule,
    start_date: dt.date,
    prefs: Preferences,
    now: dt.datetime,
    this_year: int,
    nofit: NoFit,
    placement: Placement,
    actor: AbstractBaseUser | None = None,
    closure_reasons: bool = True,
) -> CourseDoesNotFit:
    """The refusal, with the nearest alternatives. Each alternative is placed under its site's
    policy, as a proposal would be: under ``level`` an alternative that took the earliest
    times instead would leave the day template's starts and lanes behind, and every such
    session costs a full day one session of its ceiling (issue 17's clinic simulation).

    The alternatives are searched from `now` (the course's not_before: the caller's now, or the
    protocol's gap after the last infusion when later); the texts write a day outside `this_year`
    (the year of the caller's real now at the site) with its year."""
    wide_end = start_date + dt.timedelta(days=ALTERNATIVE_START_DAYS + 7 + rule.span_days)
    work = protocol_nurse_work(plan.protocol)
    wide = _availability(plan, site, start_date, wide_end, work, now=now, closure_reasons=closure_reasons)

    def by_review_date(at: Site, propose: Callable[[dt.datetime], Proposal | NoFit]) -> Callable[[], Proposal | NoFit]:
        # An alternative ends by the plan's review date, as a proposal does (course_book refuses one
        # that does not): level moves no session past it, and a course running past it is none.
        review_end = day_bounds(plan.review_date, at.zone)[1]

        def attempt() -> Proposal | NoFit:
            outcome = propose(review_end)
            if isinstance(outcome, Proposal):
                past = review_date_problems(plan=plan, slots=outcome.slots, site=at)
                if past:
                    return NoFit(reason=past[0], placed=0, needed=rule.total_sessions)
            return outcome

        return attempt

    def from_day(day: dt.date, day_prefs: Preferences) -> Callable[[], Proposal | NoFit]:
        return by_review_date(
            site,
            lambda not_after: propose_induction_placed(
                Placer(Availability(wide.site, _patient_busy(wide), work), placement),
                rule,
                day,
                day_prefs,
                now,
                not_after=not_after,
                this_year=this_year,
            ),
        )

    def at_site(other: Site) -> Callable[[], Proposal | NoFit]:
        last_day = start_date + dt.timedelta(days=7 + rule.span_days)
        return by_review_date(
            other,
            lambda not_after: propose_induction_placed(
                Placer(
                    _availability(plan, other, start_date, last_day, work, now=now, closure_reasons=closure_reasons),
                    site_placement(other, patient=plan.patient),
                ),
                rule,
                start_date,
                prefs,
                now,
                not_after=not_after,
                this_year=this_year,
            ),
        )

    # Days outside `this_year` are written with their year (in the labels and the days).
    attempts = [
        (f"Start {day_label(later, this_year)} at {site.name}", from_day(later, prefs))
        for later in (start_date + dt.timedelta(days=d) for d in range(1, ALTERNATIVE_START_DAYS + 1))
    ]
    # The site of each attempt, by its label; those that start a course from a day are named by the day
    # their course really starts (a later start inside a closure starts when the closure ends).
    site_of_label = {label: site for label, _ in attempts}
    named_by_start = set(site_of_label)
    relaxed = Preferences(weekdays=frozenset(range(7)))
    if prefs != relaxed:
        label = f"Any open day and time from {day_label(start_date, this_year)} at {site.name}"
        site_of_label[label] = site
        attempts.insert(0, (label, from_day(start_date, relaxed)))
    staff = getattr(actor, "staff", None) if actor is not None else None
    for other in Site.objects.exclude(pk=site.pk).prefetch_related("opening_hours"):
        if staff is not None and not works_at(staff, other):
            continue  # another site's chairs and free times are not this user's to see or book
        label = f"Start {day_label(start_date, this_year)} at {other.name}"
        site_of_label[label] = other
        named_by_start.add(label)
        attempts.insert(
            1,
            (
                label,
                at_site(other),
            ),
        )

    def by_first_day(asked_as: str, course: Proposal) -> str:
        at = site_of_label[asked_as]
        if asked_as not in named_by_start and not _keeps_preferences(course.slots, prefs, at.zone):
            return asked_as  # "Any open day and time": a course off the patient's preferred days or times
        return f"Start {day_label(local_day(course.slots[0].start, at.zone), this_year)} at {at.name}"

    alternatives = []
    for alternative in find_alternatives(attempts, limit=3, label=by_first_day):
        alternative_site = site_of_label[alternative.asked_as].pk
        sessions = [
            session.as_alternative()
            for session in _as_sessions(
                alternative.proposal, site_of_label[alternative.asked_as], Phase.INDUCTION.value, 1
            )
        ]
        alternatives.append(
            {
                "label": alternative.label,
                "site": alternative_site,
                "first_session": sessions[0]["starts_at"],
                "sessions": sessions,
            }
        )
    return CourseDoesNotFit(
        nofit.reason,
        details={
            "placed": nofit.placed,
            "needed": nofit.needed,
            "days": [problem.describe(this_year) for problem in nofit.problems[:10]],
            "alternatives": alternatives,
        },
    )


def _keeps_preferences(slots: Sequence[Slot], prefs: Preferences, zone: ZoneInfo) -> bool:
    """Whether every session of a course is on one of the patient's preferred days, between their
    earliest and latest starts: such a course found on "any open day and time" is a plain later start."""
    for slot in slots:
        local = slot.start.astimezone(zone)
        if local.weekday() not in prefs.weekdays:
            return False
        if (prefs.earliest and local.time() < prefs.earliest) or (prefs.latest and local.time() > prefs.latest):
            return False
    return True


def _patient_busy(availability: Availability) -> list[Span]:
    return list(availability._patient_busy.spans)


def check_course_rules(*, plan: TreatmentPlan, slots: Sequence[Slot], site: Site | None = None) -> list[str]:
    """The induction rules a client-adjusted course at `site` (the plan's by default) breaks, in
    words: in that site's days, and against the patient's infusion before the course as well."""
    rule = induction_rule(plan.protocol)
    site = site or plan.site
    zone = site.zone
    ordered = sorted(slots, key=lambda s: s.start)
    problems: list[str] = []
    minutes = int(rule.session_length.total_seconds() // 60)
    infusions = list(
        Appointment.objects.filter(patient_id=plan.patient_id, status__in=INFUSION_STATUSES).values_list(
            "starts_at", flat=True
        )
    )
    if any(s.end - s.start != rule.session_length for s in ordered):
        problems.append(f"each session of this protocol takes {minutes} minutes in the chair")
    days = [local_day(s.start, zone) for s in ordered]
    if len(set(days)) != len(days):
        problems.append("two sessions are on the same day")
    for slot, day in zip(ordered, days, strict=True):
        near = next((i for i in infusions if local_day(i, zone) == day or abs(slot.start - i) < rule.min_gap), None)
        if near is not None:
            problems.append(
                f"{local_label(slot.start, site)} is on the day of, or less than {plan.protocol.min_gap_hours} "
                f"hours from, the patient's infusion of {local_label(near, site)}"
            )
    for earlier, later in itertools.pairwise(ordered):
        if later.start - earlier.start < rule.min_gap:
            problems.append(
                f"{local_label(later.start, site)} is less than {plan.protocol.min_gap_hours} hours after the session before"
            )
    if days and (days[-1] - days[0]).days >= rule.span_days:
        problems.append(f"the course takes longer than the protocol's {rule.span_days} days")
    if rule.weekly_counts and days:
        for week, count in enumerate(rule.weekly_counts):
            start = days[0] + dt.timedelta(days=7 * week)
            in_week = sum(1 for d in days if start <= d < start + dt.timedelta(days=7))
            if in_week != count:
                problems.append(f"week {week + 1} has {sessions_text(in_week)}; the protocol asks for {count}")
    return problems


def review_date_violation(plan: TreatmentPlan) -> str:
    """What a session on a day after the plan's review date breaks, in words: the course stops there
    in either phase (plan_rule_violations for one session, review_date_problems for a course)."""
    return f"after the plan's review date ({plan.review_date:%a %-d %b %Y})"


def review_date_problems(*, plan: TreatmentPlan, slots: Sequence[Slot], site: Site) -> list[str]:
    """The sessions of a course (`slots`, on `site`'s days) that fall after the plan's review date, in
    words; none when the course ends by it. A course is booked whole, so nobody accepts such a session
    on its own: a prescriber sets a later review date first."""
    after = sorted(slot.start for slot in slots if local_day(slot.start, site.zone) > plan.review_date)
    if not after:
        return []
    many = len(after) != 1
    when = ", ".join(local_label(start, site) for start in after)
    return [
        f"{len(after)} session{'s' if many else ''} ({when}) {'are' if many else 'is'} {review_date_violation(plan)}: "
        f"a prescriber sets a later review date to book {'them' if many else 'it'}"
    ]


def plan_sessions_book(
    *,
    plan: TreatmentPlan,
    site: Site,
    slots: Sequence[Slot],
    phase: str,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
    reason: str,
) -> list[Appointment]:
    """Lock and re-check `slots`, insert them as the plan's sessions, and queue their reminders,
    all in the caller's transaction."""
    verify_slots(
        site=site,
        patient=plan.patient,
        slots=slots,
        route=plan.protocol.route,
        work=protocol_nurse_work(plan.protocol),
        now=now,
    )
    created = insert_sessions(
        patient=plan.patient,
        plan=plan,
        site=site,
        sessions=[PlannedSession(slot, phase, plan.induction_round) for slot in slots],
        actor=actor,
        reason=reason,
    )
    for appointment in created:
        reminders.reminders_schedule(appointment=appointment, now=now)
    return created


@transaction.atomic
def course_book(
    *,
    plan: TreatmentPlan,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
    sessions: Sequence[ProposedSession] | None = None,
    start_date: dt.date | None = None,
    reason: str = "Induction course booked",
) -> list[Appointment]:
    """Book a whole induction course atomically: every session or none.

    Pass the sessions a client showed (possibly adjusted), or a start date to plan afresh."""
    plan = (
        TreatmentPlan.objects.select_for_update(of=PLAN_AND_PATIENT_ROWS)
        .select_related("protocol", "site", "patient")
        .get(pk=plan.pk)
    )
    if plan.status not in BOOKABLE_PLAN_STATUSES:
        raise InvalidState(f"The plan is {plan.get_status_display().lower()}; a course cannot be booked.")
    from scheduling.services.eligibility import require_eligible

    _refuse_second_induction(plan)
    require_eligible(plan=plan, now=now, actor=actor)
    if plan.appointments.filter(
        phase=Phase.INDUCTION, induction_round=plan.induction_round, status__in=UPCOMING_STATUSES
    ).exists():
        raise InvalidState("This plan already has induction sessions booked; move or cancel those instead.")
    held = plan.appointments.filter(
        phase=Phase.INDUCTION, induction_round=plan.induction_round, status__in=INFUSION_STATUSES
    ).count()
    if held:
        # A whole course on top of the sessions held would give more than the protocol's count.
        raise InvalidState(
            f"{held} session{'s' if held != 1 else ''} of this induction {'are' if held != 1 else 'is'} already "
            "held; book the missing ones as make-up sessions, or start a new induction."
        )
    if sessions is None:
        if start_date is None:
            raise InvalidInput("Give the proposed sessions or a start date.")
        sessions = course_propose(plan=plan, start_date=start_date, now=now, actor=actor).sessions
    if not sessions:
        raise InvalidInput("A course needs at least one session.")
    site_ids = {s.site_id for s in sessions}
    if len(site_ids) != 1:
        raise InvalidInput("All sessions of a course are booked at one site.")
    site = Site.objects.filter(pk=site_ids.pop()).first()
    require_works_at(actor, site)  # a missing site as another site's: which site ids exist is not told
    if site is None:
        raise InvalidInput("The sessions name a site that does not exist.")
    slots = [s.slot for s in sessions]
    if any(slot.start <= now for slot in slots):
        raise InvalidInput("A session of the course is in the past.")
    expected = induction_rule(plan.protocol).total_sessions
    if len(slots) != expected:
        raise InvalidInput(
            f"The protocol's induction has {sessions_text(expected)}; "
            f"{len(slots)} {'was' if len(slots) == 1 else 'were'} given."
        )
    problems = check_course_rules(plan=plan, slots=slots, site=site) + review_date_problems(
        plan=plan, slots=slots, site=site
    )
    if problems:
        raise PlanRuleBroken(problems, can_override=False)
    created = plan_sessions_book(
        plan=plan, site=site, slots=slots, phase=Phase.INDUCTION, actor=actor, now=now, reason=reason
    )
    if plan.status == PlanStatus.DRAFT:
        plan.status = PlanStatus.ACTIVE
        plan.version += 1
        save_with_history(plan, fields=["status", "version"], actor=actor, reason="Activated: induction course booked")
    return created


def induction_short_by(plan: TreatmentPlan) -> int:
    """How many sessions the current induction round is missing against the protocol."""
    return induction_short_by_plans([plan])[plan.pk]


def induction_short_by_plans(plans: Iterable[TreatmentPlan]) -> dict[int, int]:
    """How many sessions each plan's current induction round is missing against its protocol (their
    protocols loaded with them), in one query: plan id -> sessions missing. One plan's is
    induction_short_by; the pages that list many sessions ask for all of theirs at once."""
    by_id = {plan.pk: plan for plan in plans}
    if not by_id:
        return {}
    # Each plan's round as the caller holds it (a round started under the lock may not be saved yet).
    rounds = Q()
    for pk, plan in by_id.items():
        rounds |= Q(plan_id=pk, induction_round=plan.induction_round)
    held = dict(
        Appointment.objects.filter(rounds, phase=Phase.INDUCTION, status__in=INFUSION_STATUSES)
        .values("plan_id")
        .annotate(held=Count("pk"))
        .order_by()
        .values_list("plan_id", "held")
    )
    return {pk: max(0, induction_rule(plan.protocol).total_sessions - held.get(pk, 0)) for pk, plan in by_id.items()}


def courses_short_by(plans: Iterable[TreatmentPlan]) -> dict[int, int]:
    """How many sessions each active plan in its induction is missing, as the desk is told ("Course
    short", with a make-up to book): a scheduling fact, unlike a flag's reason. A plan with nothing
    held of its round has a whole course to book instead, so it is not short; nor is a plan in
    another status or phase. One query for them all (none when no plan is in its induction)."""
    inducting = [plan for plan in plans if plan.status == PlanStatus.ACTIVE and plan.phase == Phase.INDUCTION]
    short = induction_short_by_plans(inducting)
    return {
        plan.pk: missing
        for plan in inducting
        if 0 < (missing := short[plan.pk]) < plan.protocol.induction_session_count
    }


# How the plan's history names the flags a short induction raises (the cancel or no-show, and a
# re-flow that found no room): a booking that makes the course whole again takes them back.
COURSE_SHORT_FLAGS = ("Flagged: induction short", "Flagged: induction re-flow failed")


def flag_course_short(plan: TreatmentPlan, *, attention: str, actor: AbstractBaseUser | None, history: str) -> None:
    """Flag the locked `plan` because its induction is short; a reason already standing (not yet
    reviewed) is kept before it, as every flag keeps it. `history` starts with COURSE_SHORT_FLAGS."""
    if plan.needs_attention and plan.attention_reason and attention not in plan.attention_reason:
        attention = f"{plan.attention_reason.rstrip('.')}. {attention}"
    plan.needs_attention, plan.attention_reason = True, attention
    plan.version += 1
    save_with_history(plan, fields=["needs_attention", "attention_reason", "version"], actor=actor, reason=history)


def _attention_before_course_short(plan: TreatmentPlan) -> str | None:
    """What the plan's attention was before the short-induction flags standing now: "" for none,
    the earlier reason when one stood; None when the standing flag says something else (a clinician
    reviews it). Read from the plan's history: runs of one (flag, reason), newest first, each run
    named by the change that began it."""
    runs: list[tuple[bool, str, str]] = []
    rows = plan.history.order_by("-history_date", "-history_id").values_list(
        "needs_attention", "attention_reason", "history_change_reason"
    )[:200]
    for flagged, reason, why in rows:
        if runs and runs[-1][:2] == (flagged, reason):
            runs[-1] = (flagged, reason, why or "")  # an older row of the same run: it began earlier
        else:
            runs.append((flagged, reason, why or ""))
    if not runs or runs[0][:2] != (plan.needs_attention, plan.attention_reason):
        return None
    if not runs[0][2].startswith(COURSE_SHORT_FLAGS):
        return None
    for flagged, reason, why in runs[1:]:
        if not flagged:
            return ""
        if not why.startswith(COURSE_SHORT_FLAGS):
            return reason
    return ""


def attention_when_course_whole(*, plan: TreatmentPlan, actor: AbstractBaseUser | None, booked: Appointment) -> bool:
    """After `booked` (an induction session) joined the locked `plan`: when the induction holds its
    protocol's count again, the flags its shortness raised are taken back (an earlier reason, not
    reviewed yet, stands again). Any other reason stays for a clinician to clear. Whether it changed."""
    if not plan.needs_attention or booked.phase != Phase.INDUCTION or induction_short_by(plan):
        return False
    before = _attention_before_course_short(plan)
    if before is None:
        return False
    plan.needs_attention, plan.attention_reason = bool(before), before
    plan.version += 1
    sessions = induction_rule(plan.protocol).total_sessions
    save_with_history(
        plan,
        fields=["needs_attention", "attention_reason", "version"],
        actor=actor,
        reason=(
            f"Attention cleared: the induction holds its {sessions_text(sessions)} again "
            f"(session booked for {local_label(booked.starts_at, booked.site)})"
        ),
    )
    return True


# A round's sessions, those that stand first (the rest: cancelled, missed), each latest first (of
# two at one time, the later booked: one order for induction_site's first row and induction_sites').
_STANDING_FIRST = (Case(When(status__in=INFUSION_STATUSES, then=Value(0)), default=Value(1)), "-starts_at", "-pk")


def induction_site(plan: TreatmentPlan) -> Site:
    """The site of the plan's current induction round, where its make-ups go: a course may be
    booked at another site than the plan's. The site of the round's latest standing session (of its
    latest session when none stands); the plan's site before the round has any. One query."""
    latest = (
        plan.appointments.filter(phase=Phase.INDUCTION, induction_round=plan.induction_round)
        .order_by(*_STANDING_FIRST)
        .select_related("site")
        .first()
    )
    return latest.site if latest is not None else plan.site


def induction_sites(plans: Iterable[TreatmentPlan]) -> dict[int, Site]:
    """induction_site for each of `plans`, by plan id, in one query for any number of plans (and one
    more for the sites of plans whose round has no session yet, unless loaded with them). The
    rounds' sessions are read in induction_site's order and the first of each plan is kept: a round
    holds a handful, and SQLite (the embedded default) has no DISTINCT ON."""
    by_id = {plan.pk: plan for plan in plans}
    sites: dict[int | None, Site] = {}
    for appointment in (
        Appointment.objects.filter(plan_id__in=by_id, phase=Phase.INDUCTION, induction_round=F("plan__induction_round"))
        .order_by("plan_id", *_STANDING_FIRST)
        .select_related("site")
    ):
        sites.setdefault(appointment.plan_id, appointment.site)
    unbooked = [plan for pk, plan in by_id.items() if pk not in sites]
    unloaded = {plan.site_id for plan in unbooked if not TreatmentPlan.site.is_cached(plan)}
    own = Site.objects.in_bulk(unloaded) if unloaded else {}
    for plan in unbooked:
        sites[plan.pk] = own.get(plan.site_id) or plan.site  # loaded with the plan when not in `own`
    return {pk: sites[pk] for pk in by_id}


def induction_reflow_propose(*, plan: TreatmentPlan, missed: Appointment, now: dt.datetime) -> Proposal | NoFit | None:
    """The sessions that would make up for a missed or cancelled induction session, after the last
    booked one and inside the protocol's window; None when nothing is missing. Writes nothing.
    Searched at the site the missed session was at, the course's (which may not be the plan's: a
    course can be booked at another site of the desk's), and its days are that site's."""
    rule = induction_rule(plan.protocol)
    site = missed.site
    zone = site.zone
    # The missed session does not count even before it is cancelled, so the desk can see the
    # replacement before deciding to cancel and rebook.
    round_sessions = list(
        plan.appointments.filter(
            phase=Phase.INDUCTION,
            induction_round=plan.induction_round,
            status__in=INFUSION_STATUSES,
        )
        .exclude(pk=missed.pk)
        .order_by("starts_at")
    )
    missing = rule.total_sessions - len(round_sessions)
    if missing <= 0:
        return None
    # The window runs from the round's first session that stands, as booking's rules count it: a
    # lost first session moves the start of the course (the missed day only when none stands).
    first_day = local_day(round_sessions[0].starts_at if round_sessions else missed.starts_at, zone)
    window_end = first_day + dt.timedelta(days=rule.span_days - 1)
    # The course stops at its review date in the induction too: no replacement after it.
    last_day = min(window_end, plan.review_date)
    search_from = max(local_day(now, zone), first_day)
    # The patient's own sessions just outside the days searched still keep the protocol's gap, so
    # the read reaches that far either side. The missed session's own day is not offered again,
    # cancelled or missed: the make-up is another day's.
    reach = dt.timedelta(days=rule.min_gap.days + 1)
    start, _ = day_bounds(search_from - reach, zone)
    _, end = day_bounds(last_day + reach, zone)
    # Nor does it keep the others apart before it is cancelled (the preview reads it still booked):
    # a make-up the day after a cancelled session is as good as one the cancel has freed.
    snapshot, busy = booking_snapshot(
        site=site, start=start, end=end, patient=plan.patient, exclude_appointment_ids=[missed.pk], now=now
    )
    missed_day = Span(*day_bounds(local_day(missed.starts_at, zone), zone))
    placer = Placer(
        Availability(
            snapshot, [*_kept_apart(busy, plan=plan, zone=zone), missed_day], protocol_nurse_work(plan.protocol)
        ),
        site_placement(site, patient=plan.patient),
    )

    def search(after: dt.datetime | None) -> Proposal | NoFit:
        return propose_additional_placed(
            placer,
            rule,
            missing,
            first_day=search_from,
            last_day=last_day,
            prefs=plan_preferences(plan),
            after=after,
            not_before=now,
        )

    # A make-up may go wherever the booking page would take it: between the sessions that stand
    # (the patient's sessions are busy days, kept the protocol's gap apart), not only after the
    # last one. Where that breaks a weekly pattern's count, as before, the missing sessions come
    # after the last one.
    outcome = search(None)
    standing_days = [local_day(a.starts_at, zone) for a in round_sessions]
    if isinstance(outcome, NoFit) or not _fits_the_pattern(
        rule, standing_days + [local_day(slot.start, zone) for slot in outcome.slots]
    ):
        outcome = search(round_sessions[-1].starts_at if round_sessions else None)
    if isinstance(outcome, NoFit) and last_day < window_end:
        outcome.reason = (
            f"Only {outcome.placed} of the {sessions_text(outcome.needed, 'remaining')} fit by "
            f"{plan.review_date:%a %-d %b %Y}, "
            "the plan's review date, where the course stops (a prescriber may set a later one)."
        )
    return outcome


def _fits_the_pattern(rule: InductionRule, days: Sequence[dt.date]) -> bool:
    """Whether the round's session `days` (those standing and those proposed) keep the protocol's
    span and, for a weekly protocol, no week over its count: what a booking checks for each session
    beyond the day and the gap (plan_rule_violations), which the search's busy days already keep."""
    ordered = sorted(days)
    if not ordered:
        return True
    if (ordered[-1] - ordered[0]).days >= rule.span_days:
        return False
    for week, count in enumerate(rule.weekly_counts):
        start = ordered[0] + dt.timedelta(days=7 * week)
        if sum(1 for day in ordered if start <= day < start + dt.timedelta(days=7)) > count:
            return False
    return True


def induction_reflow(
    *, plan: TreatmentPlan, missed: Appointment, actor: AbstractBaseUser | None, now: dt.datetime
) -> tuple[list[Appointment], list[Why]]:
    """After a missed or cancelled induction session, add the sessions now missing after the last
    booked one, inside the protocol's window, at the site the missed session was at (the actor
    must work there), and say why the site's placement policy chose each time. If they do not
    fit, flag the plan for the clinician."""
    site = missed.site
    require_works_at(actor, site)
    outcome = induction_reflow_propose(plan=plan, missed=missed, now=now)
    if outcome is None:
        return [], []
    if isinstance(outcome, NoFit):
        flag_course_short(
            plan,
            attention=(
                f"Session on {local_label(missed.starts_at, site)} was missed and could not be re-booked: "
                f"{outcome.explain(limit=3, this_year=local_day(now, site.zone).year)}"
            ),
            actor=actor,
            history="Flagged: induction re-flow failed",
        )
        return [], []
    booked = plan_sessions_book(
        plan=plan,
        site=site,
        slots=outcome.slots,
        phase=Phase.INDUCTION,
        actor=actor,
        now=now,
        reason=f"Re-flowed after the session on {local_label(missed.starts_at, site)} was missed",
    )
    return booked, outcome.whys


SCREENING_STOPS_MAINTENANCE = (
    "the patient's screening needs a prescriber's decision before more sessions are booked "
    "(they are laid out once an override covers it)"
)


@dataclass
class MaintenanceReplan:
    """What re-planning maintenance did: sessions added, moved (with where they were) and released."""

    created: list[Appointment] = field(default_factory=list)
    moved: list[tuple[Appointment, dt.datetime]] = field(default_factory=list)
    released: list[Appointment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self, site: Site) -> str:
        parts = [f"moved {local_label(old, site)} → {local_label(a.starts_at, site)}" for a, old in self.moved]
        parts += [f"added {local_label(a.starts_at, site)}" for a in self.created]
        parts += [f"released {local_label(a.starts_at, site)}" for a in self.released]
        return "; ".join(parts) if parts else "no session changed"

    def counts(self) -> str:
        return f"{len(self.moved)} moved, {len(self.created)} added, {len(self.released)} released"


def maintenance_apply(
    *,
    plan: TreatmentPlan,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
    reason: str,
    anchor: dt.datetime | None = None,
    prefs: Preferences | None = None,
    first_day: dt.date | None = None,
) -> list[Appointment]:
    """Lay out maintenance sessions (see maintenance_replan); returns the sessions added."""
    return maintenance_replan(
        plan=plan, actor=actor, now=now, reason=reason, anchor=anchor, prefs=prefs, first_day=first_day
    ).created


def maintenance_replan(
    *,
    plan: TreatmentPlan,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
    reason: str,
    anchor: dt.datetime | None = None,
    prefs: Preferences | None = None,
    first_day: dt.date | None = None,
    interval_change: int = 0,
) -> MaintenanceReplan:
    """Lay out maintenance sessions at the plan's interval up to the review date, after the latest
    session that must stay where it is: anything past, checked in, or confirmed by the patient
    (the patient has agreed to that date). Only unconfirmed future maintenance sessions after it
    are moved, released or added, and never onto a day that has passed. Moving rather than
    cancelling and rebooking gives the patient change notices instead of a cancellation. No session
    is laid out on today (a day's notice) or before `first_day` (the day a paused plan resumes).
    After a change of interval (`interval_change`: below 0 shorter, above 0 longer), the next
    session moves with the change or stays, when a day that way has room: a shorter interval does
    not move it later for a quieter day, nor a longer one earlier."""
    result = MaintenanceReplan()
    blocking = INFUSION_STATUSES
    movable_q = Q(phase=Phase.MAINTENANCE, status=AppointmentStatus.BOOKED, starts_at__gt=now)
    if anchor is None:
        last_fixed = plan.appointments.filter(status__in=blocking).exclude(movable_q).order_by("-starts_at").first()
        anchor = last_fixed.starts_at if last_fixed else now
    # Unconfirmed sessions before the anchor sit between sessions that stay; they stay too.
    existing = list(plan.appointments.filter(movable_q, starts_at__gt=anchor).order_by("starts_at"))
    zone = plan.site.zone
    booked_day = local_day(existing[0].starts_at, zone) if existing and interval_change else None
    first_within = (None, booked_day) if interval_change < 0 else (booked_day, None)
    start, _ = day_bounds(local_day(anchor, zone), zone)
    _, end = day_bounds(plan.review_date, zone)
    exclude = [a.pk for a in existing]
    snapshot = site_snapshot(site=plan.site, start=start, end=end, exclude_appointment_ids=exclude, now=now)
    work = protocol_nurse_work(plan.protocol)
    # The patient's other infusions (another plan's, a single session): never the same day, nor
    # within the protocol's gap, as for an induction.
    busy = patient_busy_spans(patient=plan.patient, start=start, end=end, exclude_appointment_ids=exclude, now=now)
    availability = Availability(snapshot, _kept_apart(busy, plan=plan, zone=zone), work)
    slots, day_problems, _ = propose_maintenance_placed(
        Placer(availability, site_placement(plan.site, patient=plan.patient)),
        maintenance_rule(plan),
        anchor,
        plan.review_date,
        prefs or plan_preferences(plan),
        not_before=now,
        first_day=first_day,
        first_within=first_within,
    )
    problems = [problem.describe(local_day(now, zone).year) for problem in day_problems]
    if len(slots) > len(existing):
        from scheduling.services.eligibility import patient_eligibility

        # A session added is a new booking: none while the screening stops the patient and no
        # prescriber's override covers it (the sessions already booked may still move).
        if patient_eligibility(patient=plan.patient, on=local_day(now, zone)).not_overridden(plan):
            slots = slots[: len(existing)]
            problems = [SCREENING_STOPS_MAINTENANCE, *problems]
    if slots:
        verify_slots(
            site=plan.site,
            patient=plan.patient,
            slots=slots,
            route=plan.protocol.route,
            exclude_ids=exclude,
            work=work,
            now=now,
        )
    kept = existing[: len(slots)]
    # Surplus sessions are released first, so a kept session may move onto a released one's time.
    for appointment in existing[len(slots) :]:
        appointment.status, appointment.cancelled_at = AppointmentStatus.CANCELLED, now
        appointment.cancellation_reason = reason
        appointment.released_with_plan = ReleasedWithPlan.RESCHEDULED
        save_with_history(
            appointment,
            fields=["status", "cancelled_at", "cancellation_reason", "released_with_plan"],
            actor=actor,
            reason=reason,
        )
        reminders.reminders_cancel(appointment=appointment, now=now)
        announce(appointment_cancelled, appointments=[appointment], actor=actor)
        result.released.append(appointment)
    # Moving later sessions first (or earlier ones first) keeps a moved row from landing on a
    # sibling that has not moved yet.
    pairs = list(zip(kept, slots, strict=False))
    pairs.sort(key=lambda pair: pair[0].starts_at, reverse=any(s.start > a.starts_at for a, s in pairs))
    for appointment, slot in pairs:
        if (appointment.starts_at, appointment.chair_id, appointment.nurse_id) == (
            slot.start,
            slot.chair_id,
            slot.nurse_id,
        ):
            continue
        previous = appointment.starts_at
        appointment.starts_at, appointment.ends_at = slot.start, slot.end
        appointment.chair_id, appointment.nurse_id = slot.chair_id, slot.nurse_id
        if previous != slot.start:
            # A new time asks for a new confirmation; another chair at the same time does not.
            appointment.status, appointment.confirmed_at = AppointmentStatus.BOOKED, None
        save_with_history(
            appointment,
            fields=["starts_at", "ends_at", "chair", "nurse", "status", "confirmed_at"],
            actor=actor,
            reason=reason,
        )
        if previous != slot.start:
            # Only a new time is news to the patient (its reminders and a "moved" notice).
            reminders.reminders_reschedule(appointment=appointment, now=now)
            result.moved.append((appointment, previous))
        # Same time, other chair or nurse: a change, not a move.
        announce(
            appointment_moved if previous != slot.start else appointment_changed,
            appointments=[appointment],
            actor=actor,
        )
    result.moved.sort(key=lambda pair: pair[1])
    if len(slots) > len(kept):
        result.created = insert_sessions(
            patient=plan.patient,
            plan=plan,
            site=plan.site,
            sessions=[PlannedSession(slot, Phase.MAINTENANCE, plan.induction_round) for slot in slots[len(kept) :]],
            actor=actor,
            reason=reason,
        )
        for appointment in result.created:
            reminders.reminders_schedule(appointment=appointment, now=now)
    renumber(plan)
    if problems:
        result.problems = problems[:5]
        plan.needs_attention = True
        plan.attention_reason = "Some maintenance sessions could not be placed: " + "; ".join(result.problems)
        plan.version += 1
        save_with_history(
            plan,
            fields=["needs_attention", "attention_reason", "version"],
            actor=actor,
            reason="Flagged: maintenance gaps",
        )
    return result


def plan_enter_maintenance(
    *, plan: TreatmentPlan, actor: AbstractBaseUser | None, now: dt.datetime
) -> list[Appointment]:
    """Induction is complete: the plan moves to maintenance and sessions are laid out at the
    plan's interval after the last induction session, up to the review date. (Here, beside
    maintenance_apply, so completing a session need not import the plan services.)"""
    plan.phase = Phase.MAINTENANCE
    plan.version += 1
    save_with_history(plan, fields=["phase", "version"], actor=actor, reason="Induction complete; maintenance begins")
    return maintenance_apply(plan=plan, actor=actor, now=now, reason="Maintenance scheduled after induction")
