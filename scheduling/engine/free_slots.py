"""Every free start on one local day, for the pages where a person picks the
time (single sessions, moves), not just the first one the planner would take.
Plain Python over an Availability: no ORM."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from scheduling.engine.availability import Availability
from scheduling.engine.model import Preferences, Slot, Span


@dataclass(frozen=True)
class DaySlots:
    """The free starts of one local day (one chair and nurse each), or why there are none."""

    day: dt.date
    slots: tuple[Slot, ...]
    reason: str = ""


def free_slots_on(
    availability: Availability,
    day: dt.date,
    duration: dt.timedelta,
    route: str,
    *,
    chair_ids: Collection[int] | None = None,
    prefs: Preferences | None = None,
    not_before: dt.datetime | None = None,
) -> DaySlots:
    """Each start on the site's grid where a chair equipped for `route` (one of `chair_ids`,
    if given) and a nurse with room are free and the patient is not busy."""
    starts, reason = availability.candidate_starts(day, duration, prefs or Preferences())
    if not starts:
        return DaySlots(day, (), reason)
    site = availability.site
    chairs = [c for c in site.chairs if route in c.routes and (chair_ids is None or c.id in chair_ids)]
    if not chairs:
        return DaySlots(
            day,
            (),
            f"no chair here is equipped for {route}"
            if chair_ids is None
            else "that chair is not equipped for this session",
        )
    nurse_ids = [nurse.id for nurse in site.nurses]
    found: list[Slot] = []
    misses: Counter[str] = Counter()
    for start in starts:
        if not_before is not None and start < not_before:
            misses["the time has passed"] += 1
            continue
        span = Span(start, start + duration)
        closure = next((why for closed, why in site.closures if closed.overlaps(span)), None)
        if closure is not None:
            misses[f"the site is closed ({closure})"] += 1
            continue
        slot, problem = _first_free(availability, span, [c.id for c in chairs], nurse_ids)
        if slot is not None:
            found.append(slot)
        else:
            misses[problem] += 1
    if found:
        return DaySlots(day, tuple(found))
    return DaySlots(day, (), misses.most_common(1)[0][0] if misses else "no free time")


def _first_free(
    availability: Availability, span: Span, chair_ids: list[int], nurse_ids: list[int]
) -> tuple[Slot | None, str]:
    if not nurse_ids:
        return None, "no nurse is on shift"
    problems: Counter[str] = Counter()
    # The least-loaded nurse first, as the planner does, so one nurse is not filled up first.
    nurses = sorted(nurse_ids, key=lambda n: availability.nurse_load(n, span))
    for chair_id in chair_ids:
        for nurse_id in nurses:
            slot = Slot(span.start, span.end, chair_id, nurse_id)
            problem = availability.slot_is_free(slot)
            if problem is None:
                return slot, ""
            problems[problem] += 1
            if problem in ("the chair is already booked then", "the patient already has a session then"):
                break  # no other nurse changes that
    if "the patient already has a session then" in problems:
        return None, "the patient already has a session then"
    if problems and set(problems) == {"the chair is already booked then"}:
        return None, "every chair is booked" if len(chair_ids) > 1 else "the chair is booked"
    nurse_problems = [p for p in problems if p != "the chair is already booked then"]
    return None, Counter({p: problems[p] for p in nurse_problems}).most_common(1)[0][0]
