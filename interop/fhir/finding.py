"""Free times, computed by our engine on every request and never stored: the Slot search and
Appointment/$find. Reads only; what is found is checked again when it is held or booked."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from clinic.models import Chair, Site
from interop.fhir import ids
from interop.fhir.outcome import invalid
from interop.fhir.params import zone_of
from interop.fhir.timing import TimingWish
from patients.models import Patient
from scheduling.engine import Availability, NoFit, Preferences, Proposal
from scheduling.engine.placement import Placer, propose_induction_placed
from scheduling.engine.wallclock import day_bounds, local_day
from scheduling.errors import CourseDoesNotFit
from scheduling.models import BOOKABLE_PLAN_STATUSES, Protocol, TreatmentPlan
from scheduling.selectors import (
    booking_snapshot,
    induction_rule,
    plan_preferences,
    protocol_nurse_work,
    site_placement,
    sites_with_schedule,
)
from scheduling.services import course_propose

# The widest window one Slot search or single-session $find looks at.
MAX_WINDOW = dt.timedelta(days=31)


def check_window(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> None:
    """[start, end) is a window to search: it ends after it starts and spans at most MAX_WINDOW on
    the wall clock of `zone` (a month of days across a clock change is 31 days there, an hour more
    or less in UTC)."""
    if end <= start:
        raise invalid("end must be after start.")
    if wall_clock(end, zone) - wall_clock(start, zone) > MAX_WINDOW:
        raise invalid(f"Ask for at most {MAX_WINDOW.days} days at a time.")


def wall_clock(instant: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@dataclass
class FreeTimes:
    times: list[ids.Proposed]
    # Why a chair had no free time on a day, and on how many (chair, day) pairs: the engine's words.
    misses: Counter[str] = field(default_factory=Counter)

    def why_none(self) -> str:
        """The commonest reason a day offered nothing, or "" when none was given."""
        return self.misses.most_common(1)[0][0] if self.misses else ""


def find_free_times(
    *,
    sites: Iterable[Site],
    start: dt.datetime,
    end: dt.datetime,
    protocol: Protocol,
    now: dt.datetime,
    patient: Patient | None = None,
    chairs: Sequence[Chair] | None = None,
    nurse_ids: Sequence[int] | None = None,
    limit: int | None = 100,
    prefs: Preferences | None = None,
    closure_reasons: bool = True,
) -> FreeTimes:
    """Every start in [start, end) where a chair equipped for the protocol's route (one of
    `chairs`, if given), a nurse with room (one of `nurse_ids`) and the patient are free,
    one per chair and start, in time order, at most `limit` (None: all); only on the weekdays and
    between the local start times of `prefs`, if given. With the reasons the days without a
    free time gave: naming a closure's reason only with `closure_reasons` (staff's words; a
    patient's never read it)."""
    sites = list(sites)
    check_window(start, end, zone_of(s.zone for s in sites))
    duration = dt.timedelta(minutes=protocol.session_minutes)
    begin = max(start, now)
    found: list[ids.Proposed] = []
    misses: Counter[str] = Counter()
    if begin >= end:
        return FreeTimes(found, Counter({"the window has passed": 1}))
    wanted_chairs = {c.pk for c in chairs} if chairs is not None else None
    for site in sites:
        snapshot, busy = booking_snapshot(
            site=site,
            start=begin,
            end=end,
            patient=patient,
            nurse_ids=nurse_ids,
            now=now,
            closure_reasons=closure_reasons,
        )
        # The protocol's nurse work, so a time whose setup no nurse can take is not offered.
        availability = Availability(snapshot, busy, protocol_nurse_work(protocol))
        chair_ids = [
            c.id
            for c in snapshot.chairs
            if protocol.route in c.routes and (wanted_chairs is None or c.id in wanted_chairs)
        ]
        day, last = local_day(begin, site.zone), local_day(end - dt.timedelta(microseconds=1), site.zone)
        while day <= last:
            for chair_id in chair_ids:
                day_slots = availability.day_slots(
                    day, duration, protocol.route, prefs=prefs, chair_ids=[chair_id], not_before=begin
                )
                if not day_slots.slots and day_slots.reason:
                    misses[day_slots.reason] += 1
                found += [
                    ids.Proposed(
                        "s",
                        site.pk,
                        slot.chair_id,
                        slot.nurse_id,
                        slot.start,
                        protocol.session_minutes,
                        protocol.pk,
                        patient.pk if patient else 0,
                    )
                    for slot in day_slots.slots
                    if slot.end <= end
                ]
            day += dt.timedelta(days=1)
    found.sort(key=free_time_key)
    return FreeTimes(found[:limit], misses)


def free_time_key(time: ids.Proposed) -> tuple[dt.datetime, int, int]:
    """The order of find_free_times's answer, unique within it (one free time per chair and start):
    start, site, chair. A page's place in it (a Slot search's or a GET $find's cursor) is this key."""
    return (time.start, time.site_id, time.chair_id)


@dataclass
class CourseFound:
    sessions: list[ids.Proposed]
    notes: list[str]
    # Why the site's placement policy chose each session's time, in words: one per session, as the
    # desk's course proposal says it (ProposedSession.why). The clinic's reasons, for its staff.
    whys: list[str] = field(default_factory=list)
    # The notes as a patient reads them: a later start's day without the placement's reasons.
    patient_notes: list[str] = field(default_factory=list)


def open_plan(patient: Patient, protocol: Protocol) -> TreatmentPlan | None:
    """The patient's open plan for this protocol, which a course or booking is made under."""
    return (
        TreatmentPlan.objects.select_related("protocol", "site", "patient")
        .filter(patient=patient, protocol=protocol, status__in=BOOKABLE_PLAN_STATUSES)
        .first()
    )


def course_times(
    *,
    site: Site,
    start: dt.datetime,
    protocol: Protocol,
    patient: Patient,
    plan: TreatmentPlan | None,
    now: dt.datetime,
    chairs: Sequence[Chair] | None = None,
    wish: TimingWish | None = None,
    closure_reasons: bool = True,
) -> CourseFound:
    """A whole induction course from the local day of `start`: the course planner under `plan`
    (the patient's open plan for this protocol, see open_plan) when there is one, else the engine's induction planner
    on the protocol's rule; every session on the weekdays and at the start times `wish` allows
    (within the plan's own preferences), and ending by its boundsPeriod end; each session with why
    the site's placement policy chose it (CourseFound.whys). Raises
    CourseDoesNotFit with the reasons; a closure's reason only with `closure_reasons` (staff's words)."""
    if wish is not None and wish.not_before is not None:
        start = max(start, wish.not_before)
    start_day = local_day(max(start, now), site.zone)
    # The boundsPeriod end goes to the planner: level placement may move a session to a quieter,
    # later day, and must not move it past the bound when the earliest course ends inside it.
    not_after = wish.not_after if wish is not None else None
    if plan is not None:
        prefs = wish.preferences(plan_preferences(plan)) if wish is not None else None
        proposal = course_propose(
            plan=plan,
            start_date=start_day,
            now=now,
            site=site,
            prefs=prefs,
            not_after=not_after,
            closure_reasons=closure_reasons,
        )
        slots = [(s.starts_at, s.chair_id, s.nurse_id) for s in proposal.sessions]
        whys = [s.why for s in proposal.sessions]
        notes, patient_notes = proposal.notes, proposal.patient_notes
    else:
        rule = induction_rule(protocol)
        horizon = start_day + dt.timedelta(days=7 + rule.span_days)
        begin, _ = day_bounds(start_day, site.zone)
        _, finish = day_bounds(horizon, site.zone)
        # The site's active chairs, when the caller holds them already (saves reading them again).
        snapshot, busy = booking_snapshot(
            site=site,
            start=begin,
            end=finish,
            patient=patient,
            chairs=chairs,
            now=now,
            closure_reasons=closure_reasons,
        )
        # The site's placement policy (level-loading by default), as for the desk's proposals.
        placer = Placer(
            Availability(snapshot, busy, protocol_nurse_work(protocol)), site_placement(site, patient=patient)
        )
        prefs = wish.preferences() if wish is not None else Preferences()
        outcome = propose_induction_placed(placer, rule, start_day, prefs, not_before=now, not_after=not_after)
        if isinstance(outcome, NoFit):
            raise CourseDoesNotFit(f"No whole course fits: {outcome.reason}", details={"reason": "course_does_not_fit"})
        assert isinstance(outcome, Proposal)
        slots = [(slot.start, slot.chair_id, slot.nurse_id) for slot in outcome.slots]
        whys = outcome.reasons or [""] * len(outcome.slots)
        notes, patient_notes = outcome.notes, outcome.notes_for_patient
    sessions = [
        ids.Proposed("p", site.pk, chair_id, nurse_id, starts_at, protocol.session_minutes, protocol.pk, patient.pk)
        for starts_at, chair_id, nurse_id in slots
    ]
    if not_after is not None and sessions and sessions[-1].end > not_after:
        raise CourseDoesNotFit(
            f"No whole course fits: its last session would end {sessions[-1].end.isoformat()}, after the timing's "
            f"boundsPeriod end {not_after.isoformat()}.",
            details={"reason": "course_does_not_fit"},
        )
    return CourseFound(sessions, list(notes), list(whys), list(patient_notes))


def sites_by_id(site_ids: Iterable[int]) -> list[Site]:
    return list(sites_with_schedule().filter(pk__in=list(site_ids)).order_by("name", "pk"))
