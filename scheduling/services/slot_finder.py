"""The free-slot finder behind the single-session and move pages: every free
start over a few days at one site, each checked against the plan's rules, with
the reason in words when a rule or the diary says no. A fixed number of queries
whatever the number of appointments: one snapshot, the patient's diary, the
plan's sessions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from clinic.models import Site
from patients.models import Patient
from scheduling.engine import Availability, Slot
from scheduling.engine.placement import LEVEL, Choice, Placer
from scheduling.engine.wallclock import day_bounds
from scheduling.errors import InvalidInput
from scheduling.models import Appointment, Phase, TreatmentPlan
from scheduling.selectors import (
    patient_busy_spans,
    protocol_nurse_work,
    rule_sessions,
    site_placement,
    site_snapshot,
)
from scheduling.services.appointments import session_rule_violations

MAX_DAYS = 14


@dataclass(frozen=True)
class SlotChoice:
    slot: Slot
    # Why the plan's rules refuse this time (empty: it may be booked).
    refused: tuple[str, ...] = ()
    # Set on the one time the site's placement policy suggests: why, in words.
    why: str = ""
    # At a level site, a start of the day's plan or of the day template in the chair listed (what the
    # board stars as a preferred gap).
    preferred: bool = False


@dataclass
class DayChoices:
    day: dt.date
    choices: list[SlotChoice] = field(default_factory=list)
    reason: str = ""

    @property
    def bookable(self) -> list[SlotChoice]:
        return [c for c in self.choices if not c.refused]


def find_free_slots(
    *,
    site: Site,
    patient: Patient,
    first_day: dt.date,
    last_day: dt.date,
    duration: dt.timedelta,
    route: str,
    now: dt.datetime,
    plan: TreatmentPlan | None = None,
    phase: str | None = None,
    chair_ids: Sequence[int] | None = None,
    exclude_id: int | None = None,
    not_before: dt.datetime | None = None,
) -> list[DayChoices]:
    """Free starts on each local day from `first_day` to `last_day` at `site`, in time order,
    none before `not_before` (`now` if not given; a patient's own change keeps a notice period).
    What is booked or held is read as of `now`.

    `exclude_id` is the session being moved: its own time does not count as busy, and is listed in
    another chair than its own (a move to nowhere is not listed, nor suggested). Each time is
    listed with the chair the site's placement policy gives it (earliest: the first free chair by
    name; level: the chair the level score takes at that time), so a desk that books the listed
    chair books what the policy would. The one bookable time the policy would take carries `why`
    (see `suggested`)."""
    if last_day < first_day:
        raise InvalidInput("The last day must be on or after the first day.")
    if (last_day - first_day).days >= MAX_DAYS:
        raise InvalidInput(f"Look at {MAX_DAYS} days or fewer at a time.")
    start, _ = day_bounds(first_day, site.zone)
    _, end = day_bounds(last_day, site.zone)
    exclude = [exclude_id] if exclude_id else []
    snapshot = site_snapshot(site=site, start=start, end=end, exclude_appointment_ids=exclude, now=now)
    busy = patient_busy_spans(patient=patient, start=start, end=end, exclude_appointment_ids=exclude, now=now)
    availability = Availability(snapshot, busy, protocol_nurse_work(plan.protocol if plan is not None else None))
    sessions = list(rule_sessions(patient.pk, now=now))
    # The session being moved: its own time in its own chair would be a move to nowhere, so that
    # time is listed in another free chair (the chair out of use left, a chair swapped), if any.
    moving = (
        Appointment.objects.filter(pk=exclude_id).values_list("starts_at", "chair_id").first() if exclude_id else None
    )
    days: list[DayChoices] = []
    every_chair: list[Slot] = []  # each free chair at each listed time, for the policy to weigh
    day = first_day
    while day <= last_day:
        found = availability.day_slots(day, duration, route, chair_ids=chair_ids, not_before=not_before or now)
        every = [slot for slot in found.every if (slot.start, slot.chair_id) != moving]
        every_chair.extend(every)
        # Each time with its first free chair in chair order (found.slots, without the one left out).
        listed = [slot for i, slot in enumerate(every) if i == 0 or every[i - 1].start != slot.start]
        choices = []
        for slot in listed:
            refused = tuple(
                session_rule_violations(
                    patient_id=patient.pk,
                    plan=plan,
                    site=site,
                    starts_at=slot.start,
                    ends_at=slot.end,
                    phase=phase or (plan.phase if plan is not None else Phase.INDUCTION),
                    exclude_id=exclude_id,
                    sessions=sessions,
                )
            )
            choices.append(SlotChoice(slot=slot, refused=refused))
        reason = found.reason or ("" if listed else "only the session's own time, in its own chair, is free")
        days.append(DayChoices(day=day, choices=choices, reason=reason))
        day += dt.timedelta(days=1)
    bookable = {choice.slot.start for day_choices in days for choice in day_choices.bookable}
    if moving is not None:
        # Its own time is listed in another chair, but suggesting it would move nothing but the chair.
        bookable.discard(moving[0])
    level = site.placement_policy == LEVEL
    if not (bookable or (level and every_chair)):
        return days
    placer = Placer(availability, site_placement(site, patient=patient))
    chosen: dict[dt.datetime, Slot] = {}
    preferred: set[dt.datetime] = set()
    if level:
        # Each time is listed with the chair level placement gives it (the desk books the listed
        # chair: the first free one by name would never be level's choice), from one scoring of
        # every free chair at every listed time.
        scored = [Choice(slot, score) for slot, score in zip(every_chair, placer.scores(every_chair), strict=True)]
        best_at: dict[dt.datetime, Choice] = {}
        for choice in scored:
            found_best = best_at.get(choice.slot.start)
            if found_best is None or choice.score < found_best.score:
                best_at[choice.slot.start] = choice
        chosen = {start: choice.slot for start, choice in best_at.items()}
        if placer.placement.preferred_starts:
            # The score's third weight is 0 at a start of the day's plan or template (`Placer.scores`).
            preferred = {start for start, choice in best_at.items() if not choice.score[2]}
        weighed = [choice for choice in scored if choice.slot.start in bookable]
        if weighed:
            first = min(weighed, key=lambda c: c.score)
            best = placer.explain(first, weighed, day_reason=placer.searched_day(first, weighed))
        else:
            best = None
    else:
        # Earliest: each time with its first free chair, as the booking service takes it; the
        # suggested time is the earliest bookable one.
        best = placer.rank([slot for slot in every_chair if slot.start in bookable])[0] if bookable else None
    if best is not None:
        chosen[best.slot.start] = best.slot  # with the nurse the explanation gave it
    for day_choices in days:
        day_choices.choices = [
            replace(
                choice,
                slot=chosen.get(choice.slot.start, choice.slot),
                why=best.why
                if best is not None and choice.slot.start == best.slot.start and not choice.refused
                else "",
                preferred=choice.slot.start in preferred,
            )
            for choice in day_choices.choices
        ]
    return days


def suggested(days: Sequence[DayChoices]) -> SlotChoice | None:
    """The time the site's placement policy suggests among `days`, if any is free."""
    return next((choice for day in days for choice in day.choices if choice.why), None)
