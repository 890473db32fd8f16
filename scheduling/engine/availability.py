"""Where and when one session can start at a site: opening hours, closures,
chairs, nurses on shift under their patient limit, and the patient's own
other sessions."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence

from scheduling.engine.model import (
    DEFAULT_NURSE_WORK,
    DayProblem,
    DaySlots,
    NurseWork,
    Preferences,
    SiteSnapshot,
    Slot,
    Span,
    site_closed,
    span_order,
)
from scheduling.engine.wallclock import day_bounds, local_instant, opening_instant, shift_hours

_DAY = dt.timedelta(days=1)
NURSE_HANDS_BUSY = "the nurse is busy setting up, checking or discharging another patient then"
EVERY_NURSE_HANDS_BUSY = "every nurse on shift is busy setting up, checking or discharging another patient then"
WEEKDAY_NAMES = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


def patients_text(count: int) -> str:
    """A nurse's patients in words: "1 patient", "3 patients"."""
    return f"{count} patient" if count == 1 else f"{count} patients"


class _SortedSpans:
    """Spans sorted by start with a parallel list of starts for bisect."""

    __slots__ = ("longest", "spans", "starts")

    def __init__(self, spans: Iterable[Span]) -> None:
        self.spans = sorted(spans, key=span_order)
        self.starts = [span.start for span in self.spans]
        self.longest = max((s.end - s.start for s in self.spans), default=dt.timedelta(0))

    def add(self, span: Span) -> None:
        insort(self.spans, span)
        self.starts.insert(bisect_left(self.starts, span.start), span.start)
        self.longest = max(self.longest, span.end - span.start)

    def overlapping(self, span: Span) -> Iterator[Span]:
        # Only spans starting within `longest` before span.start can reach into it.
        low = bisect_left(self.starts, span.start - self.longest)
        high = bisect_left(self.starts, span.end)
        for candidate in self.spans[low:high]:
            if candidate.end > span.start:
                yield candidate

    def any_overlap(self, span: Span) -> bool:
        # The hot test of every free-slot search: no generator, no slice.
        spans, start = self.spans, span.start
        for index in range(bisect_left(self.starts, start - self.longest), bisect_left(self.starts, span.end)):
            if spans[index].end > start:
                return True
        return False

    def cover(self, span: Span) -> Span | None:
        """The span (a shift) that covers all of `span`, if one does."""
        index = bisect_right(self.starts, span.start)
        if index > 0 and self.spans[index - 1].end >= span.end:
            return self.spans[index - 1]
        return None

    def covering(self, span: Span) -> bool:
        """True if one span (a shift) covers all of `span`; shifts of one person never overlap."""
        index = bisect_left(self.starts, span.start)
        if index < len(self.starts) and self.starts[index] == span.start:
            return self.spans[index].end >= span.end
        return index > 0 and self.spans[index - 1].end >= span.end


def _peak_concurrency(spans: list[Span], window: Span) -> int:
    """Most spans in progress at one instant inside `window`."""
    events: list[tuple[dt.datetime, int]] = []
    for span in spans:
        events.append((max(span.start, window.start), 1))
        events.append((min(span.end, window.end), -1))
    # Ends sort before starts at the same instant: back-to-back is not concurrent.
    events.sort(key=lambda event: (event[0], event[1]))
    peak = current = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


class Availability:
    """A mutable view of one site's free capacity and one patient's busy times.

    `claim` records a slot, so property tests and multi-session planning can
    place sessions one after another against the same view. `work` is the nurse's hands-on
    work of the sessions being placed through this view (their protocol's)."""

    def __init__(
        self, site: SiteSnapshot, patient_busy: Iterable[Span] = (), work: NurseWork = DEFAULT_NURSE_WORK
    ) -> None:
        self.site = site
        self.work = work
        self._chair_busy = {chair.id: _SortedSpans(chair.busy) for chair in site.chairs}
        self._nurse_booked = {nurse.id: _SortedSpans(nurse.booked) for nurse in site.nurses}
        self._nurse_hands = {nurse.id: _SortedSpans(nurse.hands_on) for nurse in site.nurses}
        self._nurse_shifts = {nurse.id: _SortedSpans(nurse.shifts) for nurse in site.nurses}
        self._patient_busy = _SortedSpans(patient_busy)
        self._closures = sorted(site.closures)
        # Chairs out of use for a while (their own closures): a chair closed at a start is not free then.
        self._chair_closed = {chair.id: chair for chair in site.chairs if chair.out_of_use}
        # (day, duration, preferences) -> candidate_starts: a course's plan asks about the same
        # days many times, and the grid depends only on the site's hours and zone.
        self._starts: dict[tuple[dt.date, dt.timedelta, Preferences], tuple[tuple[dt.datetime, ...], str]] = {}

    def claim(self, slot: Slot, *, for_patient: bool = True) -> None:
        span = slot.span
        self._chair_busy[slot.chair_id].add(span)
        self._nurse_booked[slot.nurse_id].add(span)
        hands = self._nurse_hands[slot.nurse_id]
        for interval in self.work.hands_on(slot.start, slot.end):
            hands.add(interval)
        if for_patient:
            self._patient_busy.add(span)

    def on_shift(self, nurse_id: int, span: Span) -> bool:
        """True if one of the nurse's shifts covers all of `span`."""
        shifts = self._nurse_shifts.get(nurse_id)
        return shifts is not None and shifts.covering(span)

    def nurse_load(self, nurse_id: int, span: Span) -> int:
        """Most of the nurse's sessions at once during `span`; 0 for a nurse not on shift at the
        site in this view (a caller's named nurse: on_shift says no to her)."""
        booked = self._nurse_booked.get(nurse_id)
        return _peak_concurrency(list(booked.overlapping(span)), span) if booked is not None else 0

    def chair_spans(self, chair_id: int, window: Span) -> list[Span]:
        """The chair's booked spans overlapping `window`, by start."""
        return list(self._chair_busy[chair_id].overlapping(window))

    def nurse_spans(self, nurse_id: int, window: Span) -> list[Span]:
        """The nurse's booked sessions overlapping `window`, by start."""
        return list(self._nurse_booked[nurse_id].overlapping(window))

    def nurse_hands(self, nurse_id: int, window: Span) -> list[Span]:
        """The nurse's hands-on intervals (setups, checks, discharges) overlapping `window`, by start."""
        hands = self._nurse_hands.get(nurse_id)
        return list(hands.overlapping(window)) if hands is not None else []

    def patient_free(self, span: Span) -> bool:
        return not self._patient_busy.any_overlap(span)

    def hands_free(self, nurse_id: int, start: dt.datetime, end: dt.datetime) -> bool:
        """True if the nurse can do this session's setup, checks and discharge: at no moment of
        them would they have `setups_per_nurse` other hands-on intervals in progress."""
        limit = self.site.setups_per_nurse
        if limit is None:
            return True
        hands = self._nurse_hands.get(nurse_id)
        if hands is None:
            return True
        for interval in self.work.hands_on(start, end):
            if not hands.any_overlap(interval):
                continue
            if limit == 1:
                return False
            overlapping = list(hands.overlapping(interval))
            if len(overlapping) >= limit and _peak_concurrency(overlapping, interval) >= limit:
                return False
        return True

    def hands_overlaps(self, nurse_id: int, start: dt.datetime, end: dt.datetime) -> int:
        """How many of the nurse's hands-on intervals this session's hands-on intervals touch
        (0 when none: the setups are apart)."""
        hands = self._nurse_hands.get(nurse_id)
        if hands is None:
            return 0
        return sum(sum(1 for _ in hands.overlapping(interval)) for interval in self.work.hands_on(start, end))

    def candidate_starts(
        self, day: dt.date, duration: dt.timedelta, prefs: Preferences
    ) -> tuple[tuple[dt.datetime, ...], str]:
        """Start instants on the site's grid for `day`, or none and the reason (worked out once
        per day, length and preferences)."""
        key = (day, duration, prefs)
        found = self._starts.get(key)
        if found is None:
            found = self._starts[key] = self._grid(day, duration, prefs)
        return found

    def _grid(self, day: dt.date, duration: dt.timedelta, prefs: Preferences) -> tuple[tuple[dt.datetime, ...], str]:
        site = self.site
        weekday = day.weekday()
        if weekday not in prefs.weekdays:
            return (), "not one of the patient's preferred days"
        hours = site.opening.get(weekday)
        if hours is None:
            return (), f"the site is closed on {WEEKDAY_NAMES[weekday]}"
        opens, closes = hours
        closes_at = opening_instant(day, closes, site.zone)
        earliest = max(opens, prefs.earliest) if prefs.earliest else opens
        latest = prefs.latest
        starts: list[dt.datetime] = []
        minute = earliest.hour * 60 + earliest.minute
        step = site.step_minutes
        minute = -(-minute // step) * step  # round up onto the grid
        midnight, next_midnight = day_bounds(day, site.zone)
        # On a day without a clock change every wall time is midnight plus its minutes.
        plain_day = next_midnight - midnight == _DAY
        while minute < 24 * 60:
            clock = dt.time(minute // 60, minute % 60)
            if latest is not None and clock > latest:
                break
            instant = midnight + dt.timedelta(minutes=minute) if plain_day else local_instant(day, clock, site.zone)
            if instant is not None:
                if instant + duration > closes_at:
                    break
                starts.append(instant)
            minute += step
        if not starts:
            window = f"{earliest:%H:%M}–{latest:%H:%M}" if latest else f"from {earliest:%H:%M}"
            return (), f"no {int(duration.total_seconds() // 60)}-minute session fits in opening hours {window}"
        return tuple(starts), ""

    def first_slot(
        self,
        day: dt.date,
        duration: dt.timedelta,
        route: str,
        prefs: Preferences,
        not_before: dt.datetime | None = None,
    ) -> Slot | DayProblem:
        """The earliest slot on `day` for the patient, or a DayProblem saying why there is none."""
        for slot in self.free_slots(day, duration, route, prefs=prefs, not_before=not_before, for_patient=True):
            return slot
        why = self.why_no_slot(
            day, duration, route, prefs=prefs, not_before=not_before, too_early="too soon after the previous session"
        )
        return DayProblem(day, why)

    def day_slots(
        self,
        day: dt.date,
        duration: dt.timedelta,
        route: str,
        *,
        prefs: Preferences | None = None,
        chair_ids: Collection[int] | None = None,
        not_before: dt.datetime | None = None,
    ) -> DaySlots:
        """Each free start on `day` for the patient, with the first free chair in chair order and the
        nurse the booking service would pick, or no starts and the reason in words. `every` keeps
        the other free chairs at those starts."""
        every = tuple(
            self.free_slots(
                day, duration, route, prefs=prefs, chair_ids=chair_ids, not_before=not_before, for_patient=True
            )
        )
        found: list[Slot] = []
        for slot in every:
            if not found or found[-1].start != slot.start:
                found.append(slot)
        if found:
            return DaySlots(day, tuple(found), every=every)
        return DaySlots(
            day, (), self.why_no_slot(day, duration, route, prefs=prefs, chair_ids=chair_ids, not_before=not_before)
        )

    def why_no_slot(
        self,
        day: dt.date,
        duration: dt.timedelta,
        route: str | None,
        *,
        prefs: Preferences | None = None,
        chair_ids: Collection[int] | None = None,
        not_before: dt.datetime | None = None,
        too_early: str = "the time has passed",
    ) -> str:
        """Why `free_slots` (for the patient) finds nothing on `day`: the reason most starts were refused.
        Asked only for a day without a slot, so it may look at each start in turn."""
        starts, reason = self.candidate_starts(day, duration, prefs or Preferences())
        if not starts:
            return reason
        chairs = self._chairs_for(route, chair_ids)
        if not chairs:
            if chair_ids is not None:
                return "that chair is not equipped for this session"
            return f"no chair here is equipped for {route}"
        misses: Counter[str] = Counter()
        closure_reason = ""  # an empty reason still closes the site (read without reasons)
        for start in starts:
            span = Span(start, start + duration)
            # A closure is looked at before the spacing: a day closed all day says so, though its first
            # starts are also too soon after the session before (or past).
            closure = next((why for closed, why in self._closures if closed.overlaps(span)), None)
            if closure is not None:
                closure_reason = closure
                misses["closure"] += 1
                continue
            if not_before is not None and start < not_before:
                misses[too_early] += 1
                continue
            if self._patient_busy.any_overlap(span):
                misses["the patient already has a session then"] += 1
                continue
            out_of_use = [problem for chair_id in chairs if (problem := self._out_of_use(chair_id, span)) is not None]
            if len(out_of_use) == len(chairs):
                misses[out_of_use[0] if len(chairs) == 1 else "every chair is out of use"] += 1
                continue
            if all(
                self._chair_busy[chair_id].any_overlap(span) or self._out_of_use(chair_id, span) is not None
                for chair_id in chairs
            ):
                if out_of_use:
                    misses["every chair is booked or out of use"] += 1
                else:
                    misses["every chair is booked" if len(chairs) > 1 else "the chair is booked"] += 1
                continue
            if self._pick_nurse(span) is None:
                misses[self._nurse_miss_reason(span)] += 1
                continue
            misses["no free time"] += 1  # not reached while free_slots and this loop agree
        if misses["closure"] == len(starts):
            return site_closed(closure_reason)
        misses.pop("closure", None)
        return misses.most_common(1)[0][0] if misses else "no free time"

    def _out_of_use(self, chair_id: int, span: Span) -> str | None:
        chair = self._chair_closed.get(chair_id)
        return None if chair is None else chair.out_of_use_problem(span)

    def _chairs_for(self, route: str | None, chair_ids: Collection[int] | None) -> list[int]:
        return [
            chair.id
            for chair in self.site.chairs
            if (route is None or route in chair.routes) and (chair_ids is None or chair.id in chair_ids)
        ]

    def _pick_nurse(self, span: Span) -> int | None:
        """The least-loaded nurse on shift for all of `span` with room for one more patient and
        hands free for the setup, checks and discharge."""
        limit = self.site.max_patients_per_nurse
        best: tuple[int, int] | None = None
        for nurse_id, shifts in self._nurse_shifts.items():
            if not shifts.covering(span):
                continue
            load = self.nurse_load(nurse_id, span)
            if load < limit and (best is None or load < best[0]) and self.hands_free(nurse_id, span.start, span.end):
                best = (load, nurse_id)
                if load == 0:
                    break
        return best[1] if best else None

    def nurses_for(self, span: Span) -> list[tuple[int, int]]:
        """(load, nurse id) of every nurse who could take a session over `span`, least loaded first."""
        limit = self.site.max_patients_per_nurse
        found = []
        for nurse_id, shifts in self._nurse_shifts.items():
            if not shifts.covering(span):
                continue
            load = self.nurse_load(nurse_id, span)
            if load < limit and self.hands_free(nurse_id, span.start, span.end):
                found.append((load, nurse_id))
        found.sort()
        return found

    def nurses_on_shift(self, span: Span, *, shift: tuple[dt.time, dt.time] | None = None) -> list[int]:
        """The ids of the nurses whose shift covers `span`, in id order; with `shift`, only those
        whose covering shift has those local wall-clock hours (`shift_hours`: 23:59 for an end
        past midnight, as the day template records it)."""
        if shift is None:
            return sorted(nurse_id for nurse_id, shifts in self._nurse_shifts.items() if shifts.covering(span))
        zone = self.site.zone
        found = []
        for nurse_id, shifts in self._nurse_shifts.items():
            cover = shifts.cover(span)
            if cover is not None and shift_hours(cover.start, cover.end, zone) == shift:
                found.append(nurse_id)
        return sorted(found)

    def _nurse_miss_reason(self, span: Span) -> str:
        on_duty = self.nurses_on_shift(span)
        if not on_duty:
            return "no nurse is on shift"
        limit = self.site.max_patients_per_nurse
        if any(self.nurse_load(nurse_id, span) < limit for nurse_id in on_duty):
            return EVERY_NURSE_HANDS_BUSY
        return f"every nurse on shift already has {patients_text(limit)}"

    def free_slots(
        self,
        day: dt.date,
        duration: dt.timedelta,
        route: str | None,
        *,
        prefs: Preferences | None = None,
        chair_ids: Collection[int] | None = None,
        nurse_ids: Collection[int] | None = None,
        not_before: dt.datetime | None = None,
        for_patient: bool = False,
        whole_day: bool = False,
    ) -> Iterator[Slot]:
        """The one free-slot search: every (start, chair) on `day` that could take a session,
        in start then chair order, each with the least-loaded nurse free for it (lowest id on a
        tie), as the booking service would choose. `route` None means any chair; the patient's
        own sessions count only `for_patient`. The planner takes the first slot, the booking
        pages one per start (`day_slots`), the API and the board all of them.

        Instead of asking every chair and nurse about every start, each busy span marks
        the range of starts it blocks (found by bisection on the sorted starts), so the
        work follows the number of bookings that day, not starts x chairs x nurses. A
        nurse's exact peak load is computed only where two or more of their sessions
        touch the window."""
        starts, _ = self.candidate_starts(day, duration, prefs or Preferences())
        if not_before is not None:
            starts = starts[bisect_left(starts, not_before) :]
        if not starts:
            return
        chairs = self._chairs_for(route, chair_ids)
        nurses = sorted(self._nurse_shifts)
        if nurse_ids is not None:
            nurses = [n for n in nurses if n in nurse_ids]
        if not chairs or not nurses:
            return
        if whole_day:  # a caller that takes every slot (the level placement): one sweep
            yield from self._sweep(starts, duration, chairs, nurses, for_patient)
            return
        # The first start alone, then the rest in one sweep: a caller taking only the first slot (the
        # planner) usually pays for one start, and one taking all of them for two sweeps.
        yield from self._sweep(starts[:1], duration, chairs, nurses, for_patient)
        if len(starts) > 1:
            yield from self._sweep(starts[1:], duration, chairs, nurses, for_patient)

    def _sweep(
        self,
        starts: Sequence[dt.datetime],
        duration: dt.timedelta,
        chairs: list[int],
        nurses: list[int],
        for_patient: bool,
    ) -> Iterator[Slot]:
        # Each set of starts is an int used as a bit set (bit i: starts[i]): marking the range of
        # starts a busy span blocks is one shift and one or, not a Python step per start.
        count = len(starts)
        window = Span(starts[0], starts[-1] + duration)

        def bits(low: int, high: int) -> int:
            return ((1 << (high - low)) - 1) << low if high > low else 0

        def blocked(span: Span) -> int:
            # Start s overlaps span iff span.start - duration < s < span.end.
            return bits(bisect_right(starts, span.start - duration), bisect_left(starts, span.end))

        def each(found: int) -> Iterator[int]:
            while found:
                lowest = found & -found
                yield lowest.bit_length() - 1
                found ^= lowest

        closed = 0
        for closure, _ in self._closures:
            closed |= blocked(closure)
        if for_patient:
            for busy_span in self._patient_busy.overlapping(window):
                closed |= blocked(busy_span)
        # Chairs first: a start no chair can take needs no nurse.
        open_starts = ((1 << count) - 1) & ~closed
        free_chairs = []
        wanted = 0
        for chair_id in chairs:
            busy = 0
            for booked in self._chair_busy[chair_id].overlapping(window):
                busy |= blocked(booked)
            closed_chair = self._chair_closed.get(chair_id)
            if closed_chair is not None:
                for out_of_use, _ in closed_chair.out_of_use:
                    busy |= blocked(out_of_use)
            free_chairs.append((chair_id, busy))
            wanted |= open_starts & ~busy
        if not wanted:
            return
        limit = self.site.max_patients_per_nurse
        if limit < 1:  # no nurse may watch a patient (the database holds the ratio at 1 or more)
            return
        hands_limit = self.site.setups_per_nurse
        # The new session's hands-on intervals as (offset from its start, length).
        new_hands = [
            (h.start - starts[0], h.end - h.start) for h in self.work.hands_on(starts[0], starts[0] + duration)
        ]
        # best[i]: (load, nurse id) of the nurse the booking service would pick for starts[i]: the
        # least loaded, the lowest id on a tie. Nurses come in id order, so a start already given a
        # nurse with load 0 (`idle`) keeps it, and one given a nurse with load 1 (`single`) is taken
        # only by a nurse with load 0.
        best: list[tuple[int, int] | None] = [None] * count
        idle = single = 0
        for nurse_id in nurses:
            on_shift = 0
            for shift in self._nurse_shifts[nurse_id].overlapping(window):
                # Covered iff shift.start <= s and s + duration <= shift.end.
                on_shift |= bits(bisect_left(starts, shift.start), bisect_right(starts, shift.end - duration))
            free = on_shift & wanted
            if not free:
                continue
            # The starts one, and two or more, of the nurse's sessions touch.
            touched = touched_twice = 0
            for booked in self._nurse_booked[nurse_id].overlapping(window):
                span_bits = blocked(booked)
                touched_twice |= touched & span_bits
                touched |= span_bits
            if hands_limit is not None:
                free = self._hands_allow(nurse_id, free, starts, duration, new_hands, hands_limit)
            for index in each(free & ~touched & ~idle):
                best[index] = (0, nurse_id)
            idle |= free & ~touched
            single &= ~idle
            if limit > 1:
                once = free & touched & ~touched_twice & ~idle & ~single
                for index in each(once):
                    best[index] = (1, nurse_id)
                single |= once
            # Two sessions in the window need not run at once: the exact peak, where no nurse with
            # load 0 or 1 is picked yet.
            for index in each(free & touched_twice & ~idle & ~single):
                load = self.nurse_load(nurse_id, Span(starts[index], starts[index] + duration))
                current = best[index]
                if load < limit and (current is None or load < current[0]):
                    best[index] = (load, nurse_id)
                    if load == 0:
                        idle |= 1 << index
                    elif load == 1:
                        single |= 1 << index
        for index, start in enumerate(starts):
            choice = best[index]
            if choice is None:
                continue
            end = start + duration
            bit = 1 << index
            for chair_id, busy in free_chairs:
                if not busy & bit:
                    yield Slot(start, end, chair_id, choice[1])

    def _hands_allow(
        self,
        nurse_id: int,
        free: int,
        starts: Sequence[dt.datetime],
        duration: dt.timedelta,
        new_hands: list[tuple[dt.timedelta, dt.timedelta]],
        hands_limit: int,
    ) -> int:
        """`free` without the starts where the nurse's hands-on work leaves no room for the new
        session's: where as many of their intervals as they may do at once touch the new ones
        (each touching pair counted), and, for more than one at once, `hands_free` says no."""
        # reached[j]: the starts where at least j + 1 touching pairs were counted.
        reached = [0] * max(hands_limit, 1)
        for interval in self._nurse_hands[nurse_id].overlapping(Span(starts[0], starts[-1] + duration)):
            for offset, length in new_hands:
                # The new interval [s + offset, s + offset + length) overlaps it iff
                # interval.start - offset - length < s < interval.end - offset.
                low = bisect_right(starts, interval.start - offset - length)
                high = bisect_left(starts, interval.end - offset)
                if high > low:
                    pair = ((1 << (high - low)) - 1) << low
                    for level in range(len(reached) - 1, 0, -1):
                        reached[level] |= reached[level - 1] & pair
                    reached[0] |= pair
        at_limit = free if hands_limit < 1 else free & reached[hands_limit - 1]
        if hands_limit == 1:
            return free & ~at_limit
        while at_limit:
            lowest = at_limit & -at_limit
            index = lowest.bit_length() - 1
            if not self.hands_free(nurse_id, starts[index], starts[index] + duration):
                free &= ~lowest
            at_limit ^= lowest
        return free

    def slot_is_free(self, slot: Slot, *, ignore_patient: bool = False) -> str | None:
        """None if `slot` can be booked as given, else what is in the way."""
        span = slot.span
        if self._chair_busy.get(slot.chair_id) is None:
            return "that chair is not at this site"
        out_of_use = self._out_of_use(slot.chair_id, span)
        if out_of_use is not None:
            return out_of_use
        if self._chair_busy[slot.chair_id].any_overlap(span):
            return "the chair is already booked then"
        if not ignore_patient and self._patient_busy.any_overlap(span):
            return "the patient already has a session then"
        if not self.on_shift(slot.nurse_id, span):
            return "the nurse is not on shift then"
        if self.nurse_load(slot.nurse_id, span) >= self.site.max_patients_per_nurse:
            return f"the nurse already has {patients_text(self.site.max_patients_per_nurse)} then"
        if not self.hands_free(slot.nurse_id, slot.start, slot.end):
            return NURSE_HANDS_BUSY
        return None


def site_problem(site: SiteSnapshot, slot: Slot, *, route: str) -> str | None:
    """What of the site's own set-up stops `slot`: the day's opening hours, a closure, or the
    chair (in use at the site, equipped for `route`, not out of use then). None when the set-up
    allows it."""
    local_start = slot.start.astimezone(site.zone)
    hours = site.opening.get(local_start.weekday())
    if hours is None:
        return "the site is closed that day"
    opens_at = opening_instant(local_start.date(), hours[0], site.zone)
    closes_at = opening_instant(local_start.date(), hours[1], site.zone)
    if slot.start < opens_at or slot.end > closes_at:
        return f"outside opening hours ({hours[0]:%H:%M}–{hours[1]:%H:%M})"
    span = Span(slot.start, slot.end)
    closure = next((why for closed, why in site.closures if closed.overlaps(span)), None)
    # A closure read without its reason (empty) closes the site all the same.
    if closure is not None:
        return site_closed(closure)
    chair = next((c for c in site.chairs if c.id == slot.chair_id), None)
    if chair is None:
        return "that chair is not in use at this site"
    if route not in chair.routes:
        return f"that chair is not equipped for {route}"
    return chair.out_of_use_problem(span)


def booked_session_problem(
    availability: Availability, slot: Slot, *, route: str, work: NurseWork = DEFAULT_NURSE_WORK
) -> str | None:
    """What a session already booked in `slot` (and counted in `availability`) breaks of the
    site's rules as they stand now, after a change of set-up: hours or a closure, its chair taken
    out of use or re-equipped, its nurse's shift gone (or the nurse no longer active), more
    patients on its nurse at once than the site's ratio now allows, or more hands-on work at once
    (setups, checks, discharges; `work` is the session's protocol's) than the site's setups per
    nurse now allow, or than its protocol's longer hands-on minutes leave room for. None when it
    still fits.

    Not asked: the chair and patient overlaps (the database refuses those whatever the set-up)."""
    problem = site_problem(availability.site, slot, route=route)
    if problem:
        return problem
    if not availability.on_shift(slot.nurse_id, slot.span):
        return "the nurse is not on shift then"
    limit = availability.site.max_patients_per_nurse
    load = availability.nurse_load(slot.nurse_id, slot.span)
    if load > limit:
        return f"the nurse already has {patients_text(load)} at once then (at most {limit})"
    hands_limit = availability.site.setups_per_nurse
    if hands_limit is not None:
        # The session's own intervals are among the nurse's, so more than the limit at once
        # means another patient's work overlaps this session's beyond what the site allows.
        hands = availability.nurse_hands(slot.nurse_id, slot.span)
        for interval in work.hands_on(slot.start, slot.end):
            if _peak_concurrency([h for h in hands if h.overlaps(interval)], interval) > hands_limit:
                return NURSE_HANDS_BUSY
    return None
