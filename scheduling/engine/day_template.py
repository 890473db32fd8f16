"""A site's day template: staggered start times per chair that let one typical day hold the
most sessions, solved with OR-Tools CP-SAT. Plain values in, plain values out (no ORM):
scheduling.services.day_template loads the inputs and keeps the result.

The model, on a grid of `step_minutes` (wall-clock minutes since local midnight):
- each chair has a few ordered session slots; a slot is empty or holds one protocol, as an
  optional interval of the protocol's chair minutes (add_no_overlap per chair);
- a session needs a chair equipped for its route, lies inside opening hours, and while it
  runs the nurses on shift watch it under the site's ratio (add_cumulative);
- its nurse's hands-on work (the setup at the start, each check at its offset, the discharge
  at the end: what booking's hands-on rule holds) counts against nurses on shift x setups per
  nurse at every minute (add_cumulative, the binding constraint in practice). A template that
  counted the setups alone would offer starts booking then refuses (a setup at 08:40 meets the
  check of an 08:00 session).
Objective, in this order: the most sessions; then a protocol mix close to the observed one;
then early starts (which, under the setup constraint, means starts staggered by the setup
time from opening, not piled at opening). Solved in two phases (most sessions first, then
the rest with that count held, for at most half the limit), within one time limit.
That pooled model is exact for one nurse; for several it is solved per nurse (in lanes of
chairs, or as tracks when their shifts differ: `solve_day_template`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from scheduling.engine.model import NurseWork, SiteSnapshot, Span
from scheduling.engine.wallclock import day_bounds

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

DEFAULT_TIME_LIMIT_SECONDS = 10.0
DEFAULT_WORKERS = 2
# Mix deviations are counted in hundredths of a session share.
_SHARE_SCALE = 100


@dataclass(frozen=True)
class ChairSpec:
    id: int
    routes: frozenset[str]


@dataclass(frozen=True)
class ProtocolSpec:
    id: int
    route: str
    chair_minutes: int
    setup_minutes: int
    weight: float  # its share of the bookings (any positive scale)
    check_offsets: tuple[int, ...] = ()  # minutes after the start
    check_minutes: int = 0
    discharge_minutes: int = 0

    def hands_on(self) -> list[tuple[int, int]]:
        """(offset from the start, minutes) of each piece of the nurse's hands-on work, in order:
        `NurseWork.hands_on`'s layout (each clipped to the session, overlapping pieces one), so
        the solver and booking never read a protocol's nurse work two ways."""
        work = NurseWork(
            setup_minutes=self.setup_minutes,
            check_offsets_minutes=self.check_offsets,
            check_minutes=self.check_minutes,
            discharge_minutes=self.discharge_minutes,
        )
        return list(_hands_on_offsets(work, self.chair_minutes))


_ORIGIN = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@functools.cache
def _hands_on_offsets(work: NurseWork, minutes: int) -> tuple[tuple[int, int], ...]:
    """`work`'s hands-on pieces of a session `minutes` long, as (offset, minutes); worked out once
    per protocol (the models ask for them for every slot)."""
    spans = work.hands_on(_ORIGIN, _ORIGIN + dt.timedelta(minutes=minutes))
    return tuple(
        ((s.start - _ORIGIN) // dt.timedelta(minutes=1), (s.end - s.start) // dt.timedelta(minutes=1)) for s in spans
    )


@dataclass(frozen=True)
class NurseShift:
    """One nurse's shift on the typical day, in local wall-clock time."""

    starts: dt.time
    ends: dt.time


@dataclass(frozen=True)
class FixedWork:
    """What a day already holds, in wall-clock minutes of the day, [start, end) pairs: the
    sessions booked on each chair, and the lone nurse's booked sessions (watched) and hands-on
    work. A day plan is solved around it."""

    chairs: Mapping[int, Sequence[tuple[int, int]]] = field(default_factory=dict)
    watched: Sequence[tuple[int, int]] = ()
    hands: Sequence[tuple[int, int]] = ()
    # Where the lone nurse's shifts meet end to start: no session may span one (`_seams`).
    seams: Sequence[int] = ()


@dataclass(frozen=True)
class DayRules:
    """One day's rules, the same for every model a solve builds: the opening hours, the protocols
    and their mix, booking's per-nurse limits, and the grid starts lie on."""

    opening: tuple[dt.time, dt.time]
    protocols: Sequence[ProtocolSpec]
    setups_per_nurse: int = 1
    max_patients_per_nurse: int = 3
    step_minutes: int = 5

    @property
    def opens(self) -> int:
        """The first grid minute at or after opening."""
        return math.ceil(_minutes(self.opening[0]) / self.step_minutes) * self.step_minutes

    @property
    def closes(self) -> int:
        """The last grid minute at or before closing."""
        return _minutes(self.opening[1]) // self.step_minutes * self.step_minutes

    @property
    def cells(self) -> int:
        """Grid cells between them (0 when the day has none)."""
        return max(0, (self.closes - self.opens) // self.step_minutes)


@dataclass(frozen=True)
class DayTemplateSolution:
    starts: dict[int, list[tuple[dt.time, int]]]  # chair id -> [(local start, protocol id)], in time order
    sessions_per_day: int
    # chair id -> the nurse (0, 1, ... in the order of the nurses on shift) whose chairs it is in,
    # when the day was solved per nurse in lanes; empty otherwise.
    lanes: dict[int, int] = field(default_factory=dict)
    # (chair id, start) -> the nurse (her index in the nurse shifts given) whose track the start
    # is in, when the day was solved per nurse without lanes (`_solve_by_nurse`).
    shifts: dict[tuple[int, dt.time], int] = field(default_factory=dict)


@dataclass(frozen=True)
class DayTemplateOutcome:
    """What the solver said. `template` is None when it found no usable day (infeasible, out of
    time before a first solution, or nothing fits at all): callers keep the heuristic."""

    status: str  # CP-SAT's status name: OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN, MODEL_INVALID
    solve_seconds: float
    template: DayTemplateSolution | None


def _minutes(clock: dt.time) -> int:
    return clock.hour * 60 + clock.minute


def _clock(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


def _capacity_blocks(
    model: cp_model.CpModel, counts: Sequence[int], first: int, step: int, full: int
) -> tuple[list[cp_model.IntervalVar], list[int]]:
    """Fixed intervals that use up `full - counts[i]` of a cumulative during grid cell i, so that
    a cumulative of capacity `full` leaves exactly `counts[i]` free: capacity varying over the day."""
    intervals, demands = [], []
    index = 0
    while index < len(counts):
        end = index
        while end < len(counts) and counts[end] == counts[index]:
            end += 1
        taken = full - counts[index]
        if taken > 0:
            start = first + index * step
            intervals.append(model.new_interval_var(start, (end - index) * step, start + (end - index) * step, ""))
            demands.append(taken)
        index = end
    return intervals, demands


def _nothing_held(status: cp_model.CpSolverStatus) -> str:
    """An empty day's status when the best found holds no session: INFEASIBLE once proven, else
    UNKNOWN (the limit cut the search short, and a longer one may yet find a day)."""
    from ortools.sat.python import cp_model

    return "INFEASIBLE" if status == cp_model.OPTIMAL else "UNKNOWN"


# A day plan's solves are reproducible (the same plan on any machine under any load, so a bench's
# figures repeat): one thread interleaving CP-SAT's strategies, a fixed seed, and a budget of
# deterministic work; the wall-clock limit only bounds a machine too slow for that work.
LANE_WORK = 2.0


def _reproducible(solver: cp_model.CpSolver, work: float) -> None:
    solver.parameters.num_workers = 1
    solver.parameters.interleave_search = True
    solver.parameters.random_seed = 1
    solver.parameters.max_deterministic_time = work


def _keep_off_seams(
    model: cp_model.CpModel, start: cp_model.LinearExpr, minutes: int, seams: Sequence[int], present: cp_model.IntVar
) -> None:
    """A present session [start, start + minutes) ends by each seam or starts after it."""
    for seam in seams:
        before = model.new_bool_var("")
        model.add(start + minutes <= seam).only_enforce_if([present, before])
        model.add(start >= seam).only_enforce_if([present, ~before])


def solve_day_template(
    *,
    chairs: Sequence[ChairSpec],
    opening: tuple[dt.time, dt.time],
    nurse_shifts: Sequence[NurseShift],
    protocols: Sequence[ProtocolSpec],
    setups_per_nurse: int = 1,
    max_patients_per_nurse: int = 3,
    step_minutes: int = 5,
    time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS,
    workers: int = DEFAULT_WORKERS,
) -> DayTemplateOutcome:
    """The site's template (`_solve_template`). Protocols the day cannot tell apart (the same route,
    chair time and nurse work: a clinic's induction and maintenance protocols of one session often
    are) are solved as one, weighted by their sum, and its starts are then dealt back to them in
    proportion to their weights (`_deal_shapes`): the same days, without the solver searching
    which of two identical sessions goes where (docs/benchmarks.md: 2.2 s against 0.3 s on the
    12-chair site, 5.7 s against 3.4 s on the demo's 6 chairs)."""
    shapes: dict[tuple[object, ...], list[ProtocolSpec]] = {}
    for protocol in protocols:
        shapes.setdefault(protocol_shape(protocol), []).append(protocol)
    merged = [
        group[0] if len(group) == 1 else dataclasses.replace(group[0], weight=sum(member.weight for member in group))
        for group in shapes.values()
    ]
    outcome = _solve_template(
        chairs=chairs,
        opening=opening,
        nurse_shifts=nurse_shifts,
        protocols=merged,
        setups_per_nurse=setups_per_nurse,
        max_patients_per_nurse=max_patients_per_nurse,
        step_minutes=step_minutes,
        time_limit_seconds=time_limit_seconds,
        workers=workers,
    )
    groups = {group[0].id: group for group in shapes.values() if len(group) > 1}
    if outcome.template is None or not groups:
        return outcome
    return dataclasses.replace(outcome, template=_deal_shapes(outcome.template, groups))


def protocol_shape(protocol: ProtocolSpec) -> tuple[object, ...]:
    """What the day template sees of a protocol: its route, chair time and the nurse's hands-on work
    as booking lays it out (so check offsets given in another order, or past the end, are the same
    shape); not its id or weight."""
    return (protocol.route, protocol.chair_minutes, tuple(protocol.hands_on()))


def _deal_shapes(template: DayTemplateSolution, groups: Mapping[int, Sequence[ProtocolSpec]]) -> DayTemplateSolution:
    """`template` with the starts of each merged protocol (`groups`: the id it was solved under ->
    the protocols it stands for) given to its protocols in time order (then chair), each start to
    the one furthest behind its share of the weights so far (Sainte-Lague's divisors, ties to the
    lower id): 1 : 1 alternates, 3 : 1 gives three of four to the first."""
    given: dict[int, int] = {}
    owner: dict[tuple[int, dt.time], int] = {}
    merged = sorted(
        (start, chair_id, solved_as)
        for chair_id, rows in template.starts.items()
        for start, solved_as in rows
        if solved_as in groups
    )
    for start, chair_id, solved_as in merged:
        group = groups[solved_as]
        chosen = max(group, key=lambda p: (p.weight / (2 * given.get(p.id, 0) + 1), -p.id))
        given[chosen.id] = given.get(chosen.id, 0) + 1
        owner[chair_id, start] = chosen.id
    starts = {
        chair_id: [(start, owner.get((chair_id, start), protocol_id)) for start, protocol_id in rows]
        for chair_id, rows in template.starts.items()
    }
    return dataclasses.replace(template, starts=starts)


def _solve_template(
    *,
    chairs: Sequence[ChairSpec],
    opening: tuple[dt.time, dt.time],
    nurse_shifts: Sequence[NurseShift],
    protocols: Sequence[ProtocolSpec],
    setups_per_nurse: int = 1,
    max_patients_per_nurse: int = 3,
    step_minutes: int = 5,
    time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS,
    workers: int = DEFAULT_WORKERS,
) -> DayTemplateOutcome:
    """The site's template. Booking gives every session one nurse, whose own hands-on work may not
    overlap (beyond setups per nurse) and who watches at most the ratio at once; a template that
    only kept these limits for all nurses together (a pool) offers days no assignment of nurses
    can hold (12 chairs, 4 nurses, 120-minute sessions: 50 pooled, 44 with each nurse's own
    limits). When every nurse works the same shift and there are at least as many chairs as
    nurses, the day is solved per nurse: the chairs are dealt out to the nurses in turn (alike
    equipment spread evenly), and each nurse's chairs are solved with that nurse alone, which
    is exact for that nurse; nurses with the same chairs share one solve. Otherwise (nurses on
    different shifts hand chairs over during the day, or more nurses than chairs) each nurse's
    sessions are solved as tracks of her own and the chairs dealt after, or the pooled day is
    given nurses where that is quicker (`_solve_rostered`); each start then names the shift
    (`nurse_shifts` in order of their hours) whose nurse takes it. One nurse alone is the pooled
    model, which is exact for her."""
    started = time.monotonic()
    rules = DayRules(
        opening=opening,
        protocols=protocols,
        setups_per_nurse=setups_per_nurse,
        max_patients_per_nurse=max_patients_per_nurse,
        step_minutes=step_minutes,
    )
    solve = functools.partial(_solve, rules=rules, workers=workers)
    nurses = len(nurse_shifts)
    if nurses < 2:
        return solve(chairs=chairs, nurse_shifts=nurse_shifts, time_limit_seconds=time_limit_seconds)
    # Per nurse, numbered in order of their hours (as each start of a rostered day names them).
    plan_nurses = [
        _PlanNurse(id=index, shifts=[(_minutes(s.starts), _minutes(s.ends))], watched=(), hands=())
        for index, s in enumerate(sorted(nurse_shifts, key=lambda s: (s.starts, s.ends)))
    ]
    if len(set(nurse_shifts)) != 1 or len(chairs) < nurses:
        return _solve_rostered(
            chairs=chairs, nurses=plan_nurses, rules=rules, time_limit_seconds=time_limit_seconds, workers=workers
        )
    dealt: list[list[ChairSpec]] = [[] for _ in range(nurses)]
    for position, chair in enumerate(sorted(chairs, key=lambda c: (sorted(c.routes), c.id))):
        dealt[position % nurses].append(chair)
    # Lanes whose chairs are equipped alike, in the same order, have the same answer: solve once.
    kinds: dict[tuple[frozenset[str], ...], list[tuple[int, list[ChairSpec]]]] = {}
    for index, lane in enumerate(dealt):
        kinds.setdefault(tuple(chair.routes for chair in lane), []).append((index, lane))
    starts: dict[int, list[tuple[dt.time, int]]] = {}
    lanes: dict[int, int] = {}
    statuses: list[str] = []
    for number, members in enumerate(kinds.values()):
        left = time_limit_seconds - (time.monotonic() - started)
        solved = solve(
            chairs=members[0][1],
            nurse_shifts=nurse_shifts[:1],
            time_limit_seconds=max(0.05, left / (len(kinds) - number)),
        )
        statuses.append(solved.status)
        if solved.template is None:
            continue
        for index, lane in members:
            for solved_chair, chair in zip(members[0][1], lane, strict=True):
                lanes[chair.id] = index
                if solved_chair.id in solved.template.starts:
                    starts[chair.id] = list(solved.template.starts[solved_chair.id])
    held = sum(len(rows) for rows in starts.values())
    status = "OPTIMAL" if all(s == "OPTIMAL" for s in statuses) else ("FEASIBLE" if held else statuses[-1])
    if status == "OPTIMAL" and held and held >= _setups_bound(len(chairs), nurses, rules):
        # No day holds more than the setups let the chairs start (`_setups_bound`): the lanes' day is
        # proven without the shared-chairs check below (which could not prove it in its budget on 6
        # chairs and 4 nurses, and took 4 s trying).
        return DayTemplateOutcome(
            status="OPTIMAL",
            solve_seconds=time.monotonic() - started,
            template=DayTemplateSolution(starts=starts, sessions_per_day=held, lanes=lanes),
        )
    if status == "OPTIMAL" and held:
        # Each lane is exact for its nurse, but dealing the chairs out is itself a restriction (two
        # nurses on five chairs: 20 in lanes, 21 sharing them). The tracks model shares the chairs,
        # started from the lanes' day: its proven optimum at the same count proves the lanes' day
        # (which is kept, chairs and nurses as placement knows them), and a larger one replaces it.
        hint: dict[int, list[tuple[int, int]]] = {}
        for chair_id, rows in starts.items():
            hint.setdefault(lanes[chair_id], []).extend((_minutes(clock), protocol) for clock, protocol in rows)
        shared = _solve_by_nurse(
            chairs=chairs,
            nurses=plan_nurses,
            time_limit_seconds=max(0.05, time_limit_seconds - (time.monotonic() - started)),
            workers=workers,
            work=ROSTERED_PROBE_WORK,
            hint=hint,
            rules=rules,
        )
        counted = shared.template.sessions_per_day if shared.template is not None else 0
        if counted > held:
            return DayTemplateOutcome(
                status=shared.status, solve_seconds=time.monotonic() - started, template=shared.template
            )
        status = "OPTIMAL" if shared.status == "OPTIMAL" and counted == held else "FEASIBLE"
    return DayTemplateOutcome(
        status=status,
        solve_seconds=time.monotonic() - started,
        template=DayTemplateSolution(starts=starts, sessions_per_day=held, lanes=lanes) if held else None,
    )


def _minimize_mix_then_lateness(
    model: cp_model.CpModel,
    usable: Sequence[ProtocolSpec],
    by_protocol: Mapping[int, Sequence[cp_model.IntVar]],
    total: cp_model.LinearExpr | cp_model.IntVar | int,
    options: int,
    cells_used: Sequence[cp_model.IntVar | cp_model.LinearExpr],
    cells: int,
) -> None:
    """A template's second objective, once its count is held: a protocol mix close to the observed
    one, then the earliest starts (each a grid cell from opening; an empty slot counts 0)."""
    weight_sum = sum(p.weight for p in usable)
    deviations = []
    for protocol in usable:
        if not by_protocol[protocol.id]:
            continue
        share = round(_SHARE_SCALE * protocol.weight / weight_sum)
        gap = _SHARE_SCALE * sum(by_protocol[protocol.id]) - share * total
        deviation = model.new_int_var(0, _SHARE_SCALE * options, f"dev_{protocol.id}")
        model.add(deviation >= gap)
        model.add(deviation >= -gap)
        deviations.append(deviation)
    lateness = sum(cells_used)
    lateness_bound = len(cells_used) * cells
    model.minimize((lateness_bound + 1) * sum(deviations) + lateness)


# The share of a rostered template's time limit the pooled model may take first (`_solve_rostered`).
ROSTERED_POOLED_SHARE = 0.3
# The per-nurse model alone, tried first on a rostered day: a few nurses' tracks are a small
# model, and CP-SAT proves their optimum well inside this deterministic work (about 0.7 s for
# two early and two late nurses, with or without booked sessions, where the pooled model first
# took 2-4 s). Reproducible, for templates and day plans alike, as long as the wall-clock limit
# does not stop the work first (a machine many times slower than that).
ROSTERED_PROBE_WORK = 0.5
# A rostered day plan's second phases (the arrangement, once the count is held) get this much
# deterministic work each: the count is what the plan is for, and a full LANE_WORK / 2 there took
# many seconds of wall clock per day.
PLAN_REFINE_WORK = 0.2


def _setups_bound(chairs: int, nurses: int, rules: DayRules) -> int:
    """The most sessions a day of `chairs` chairs can hold whatever the nurses' lanes, counting only
    chair time and the setups (an upper bound, not a day). Every session begins with its setup (the
    shortest protocol's, S minutes), and at most `nurses` x setups per nurse are under way at once,
    so at most that many sessions start in any S minutes: of the chairs in order of their first
    start, the j-th starts no earlier than (j // that many) x S after opening (on the grid), and
    then holds at most what is left of the day over the shortest session. 12 chairs and 4 nurses,
    120-minute sessions with 20-minute setups, 08:00-18:00: 4 x 5 + 8 x 4 = 52; 6 chairs: 28."""
    # The protocols a day can hold (as `_solve` and `_solve_by_nurse` take them).
    protocols = [p for p in rules.protocols if p.chair_minutes > 0 and p.weight > 0]
    if not protocols or chairs <= 0 or nurses <= 0:
        return 0
    shortest = min(p.chair_minutes for p in protocols)
    setup = min((pieces[0][1] if pieces and pieces[0][0] == 0 else 0) for pieces in (p.hands_on() for p in protocols))
    at_once = nurses * rules.setups_per_nurse
    step = rules.step_minutes
    day = _minutes(rules.opening[1]) - rules.opens
    bound = 0
    for chair in range(chairs):
        first = math.ceil((chair // at_once) * setup / step) * step
        bound += max(0, (day - first) // shortest)
    return bound


def _solve_rostered(
    *,
    chairs: Sequence[ChairSpec],
    nurses: Sequence[_PlanNurse],
    rules: DayRules,
    time_limit_seconds: float,
    workers: int,
    busy: Mapping[int, Sequence[tuple[int, int]]] | None = None,
    work: float | None = None,
) -> DayTemplateOutcome:
    """A day for nurses who cannot keep chairs of their own (see `solve_day_template`), empty
    or around what is booked (`busy` per chair, each nurse's own booked work). With no more
    nurses than chairs the per-nurse model is tried first on a small reproducible budget
    (ROSTERED_PROBE_WORK); its proven optimum is the answer. Otherwise, and always with more
    nurses than chairs, the pooled model is solved: no day per nurse holds more than it (a day
    each nurse can hold is a day the pool can). Its sessions are then given nurses in time order
    (`_assign_nurses`); when every one of them gets one, that day is the answer, and as proven
    as the pooled count (a site with nurses to spare: the chairs bind). Otherwise the per-nurse
    model (`_solve_by_nurse`) is solved from that assignment for what is left of the limit, and
    the best of the answers is kept: every start names a nurse who can take it. With `work`, every
    solve is reproducible (`_reproducible`), and the first one always is."""
    started = time.monotonic()
    by_nurse = functools.partial(
        _solve_by_nurse,
        chairs=chairs,
        nurses=nurses,
        rules=rules,
        workers=workers,
        busy=busy,
    )
    probe = None
    if len(nurses) <= len(chairs):
        # The nurses bind: their own tracks first. A proven optimum there is the answer, so the
        # pooled model (a bound and a start for a harder day) is only solved when this one is not.
        # With more nurses than chairs the chairs bind, the tracks model is large and slow to
        # prove, and the pooled day given nurses is the quick answer.
        probe = by_nurse(time_limit_seconds=time_limit_seconds * ROSTERED_POOLED_SHARE, work=ROSTERED_PROBE_WORK)
        # Proven and holding sessions; or, around bookings, proven that the day holds no more.
        if probe.status == "OPTIMAL" and (probe.template is not None or busy):
            return DayTemplateOutcome(
                status=probe.status, solve_seconds=time.monotonic() - started, template=probe.template
            )
    first = _solve(
        chairs=chairs,
        nurse_shifts=[NurseShift(_clock(a), _clock(min(b, 24 * 60 - 1))) for n in nurses for a, b in n.shifts],
        rules=rules,
        # A template's pooled phase takes a share of the limit; a day plan's is bounded by its
        # work, so it is the same everywhere (half the limit only bounds a machine too slow for
        # it, leaving the per-nurse phase the rest).
        time_limit_seconds=time_limit_seconds * (0.5 if work is not None else ROSTERED_POOLED_SHARE),
        workers=workers,
        refine_work=PLAN_REFINE_WORK,
        fixed=FixedWork(
            chairs=busy or {},
            watched=[span for n in nurses for span in n.watched],
            hands=[span for n in nurses for span in n.hands],
        )
        if work is not None
        else None,
    )
    # Whether the pooled count bounds every day per nurse, so that it proves one it is reached by.
    bounds = _pooled_bounds(nurses, rules)
    assigned: dict[tuple[int, dt.time], int] = {}
    if first.template is not None:
        assigned = _assign_nurses(first.template.starts, nurses, rules)
        if bounds and len(assigned) == first.template.sessions_per_day:
            return DayTemplateOutcome(
                status=first.status,
                solve_seconds=time.monotonic() - started,
                template=DayTemplateSolution(
                    starts=first.template.starts, sessions_per_day=len(assigned), shifts=assigned
                ),
            )
    protocol_at = {
        (c, clock): p for c, rows in (first.template.starts if first.template else {}).items() for clock, p in rows
    }
    hint: dict[int, list[tuple[int, int]]] = {}
    for (chair, clock), nurse in assigned.items():
        hint.setdefault(nurse, []).append((_minutes(clock), protocol_at[chair, clock]))
    solved = by_nurse(
        time_limit_seconds=max(0.05, time_limit_seconds - (time.monotonic() - started)),
        work=work,
        hint=hint,
        # The pooled optimum bounds any day per nurse (a proven count only).
        at_most=first.template.sessions_per_day
        if bounds and first.template is not None and first.status == "OPTIMAL"
        else None,
    )
    if (
        probe is not None
        and probe.template is not None
        and (solved.template is None or probe.template.sessions_per_day > solved.template.sessions_per_day)
    ):
        solved = DayTemplateOutcome(status="FEASIBLE", solve_seconds=0.0, template=probe.template)
    held = solved.template.sessions_per_day if solved.template else 0
    if first.template is not None and len(assigned) > held:
        kept = {c: [row for row in rows if (c, row[0]) in assigned] for c, rows in first.template.starts.items()}
        return DayTemplateOutcome(
            status="FEASIBLE",
            solve_seconds=time.monotonic() - started,
            template=DayTemplateSolution(
                starts={c: rows for c, rows in kept.items() if rows}, sessions_per_day=len(assigned), shifts=assigned
            ),
        )
    return DayTemplateOutcome(status=solved.status, solve_seconds=time.monotonic() - started, template=solved.template)


def _pooled_bounds(nurses: Sequence[_PlanNurse], rules: DayRules) -> bool:
    """Whether the pooled model's count is an upper bound for a day per nurse. It is a relaxation
    only while (a) every shift begins and ends on the grid inside the opening hours (the pooled
    model counts a nurse in a cell her shift covers whole; per nurse, a session may end with her
    shift between two cells), and (b) each nurse's booked work lies inside her shifts and within
    her limits (the pooled model charges it all, uncapped, to whoever is on shift; per nurse it is
    hers alone, and work beyond her limits only uses them up)."""
    opens, closes, step = rules.opens, rules.closes, rules.step_minutes
    for nurse in nurses:
        if any(opens < edge < closes and edge % step for shift in nurse.shifts for edge in shift):
            return False
        for spans, limit in ((nurse.hands, rules.setups_per_nurse), (nurse.watched, rules.max_patients_per_nurse)):
            if not all(any(a <= begins and ends <= b for a, b in nurse.shifts) for begins, ends in spans):
                return False
            load = 0
            # At one minute an end comes before a start (-1 sorts first): [a, b) then [b, c) is one at a time.
            for _, change in sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans]):
                load += change
                if load > limit:
                    return False
    return True


def _assign_nurses(
    starts: Mapping[int, Sequence[tuple[dt.time, int]]],
    nurses: Sequence[_PlanNurse],
    rules: DayRules,
) -> dict[tuple[int, dt.time], int]:
    """Nurses for a day's sessions, in time order, as booking holds one nurse (with what she has
    booked already): one of her shifts
    covers the session, her hands-on work stays within the setups per nurse at every minute, and she
    watches fewer than the ratio. Each session takes, among the nurses who can, the one whose
    shift ends first (the later ones stay free for the later sessions), then the one with the
    fewest sessions, then the lowest id; a session no nurse can take gets none.
    Returns (chair, start) -> nurse id."""
    by_id = {p.id: p for p in rules.protocols}
    day = 24 * 60
    hands = {n.id: [0] * (day + 1) for n in nurses}
    watched = {n.id: [0] * (day + 1) for n in nurses}
    for nurse in nurses:  # what each nurse has booked already
        for spans, load in ((nurse.hands, hands[nurse.id]), (nurse.watched, watched[nurse.id])):
            for begins, ends in spans:
                for m in range(max(0, begins), min(day, ends)):
                    load[m] += 1
    count = {n.id: 0 for n in nurses}
    found: dict[tuple[int, dt.time], int] = {}
    for clock, chair, protocol_id in sorted((clock, c, p) for c, rows in starts.items() for clock, p in rows):
        protocol = by_id[protocol_id]
        start = _minutes(clock)
        end = min(day, start + protocol.chair_minutes)
        pieces = [(start + offset, min(day, start + offset + length)) for offset, length in protocol.hands_on()]
        able = []
        for nurse in nurses:
            shift = next((b for a, b in nurse.shifts if a <= start and end <= b), None)
            if shift is None:
                continue
            if any(watched[nurse.id][m] >= rules.max_patients_per_nurse for m in range(start, end)):
                continue
            if any(hands[nurse.id][m] >= rules.setups_per_nurse for a, b in pieces for m in range(a, b)):
                continue
            able.append((shift, count[nurse.id], nurse.id))
        if not able:
            continue
        _, _, chosen = min(able)
        for m in range(start, end):
            watched[chosen][m] += 1
        for a, b in pieces:
            for m in range(a, b):
                hands[chosen][m] += 1
        count[chosen] += 1
        found[chair, clock] = chosen
    return found


def _solve(
    *,
    chairs: Sequence[ChairSpec],
    nurse_shifts: Sequence[NurseShift],
    rules: DayRules,
    time_limit_seconds: float,
    workers: int,
    fixed: FixedWork | None = None,
    refine_work: float = LANE_WORK / 2,
) -> DayTemplateOutcome:
    """One CP-SAT model of the whole day with the nurses pooled (see the module docstring).
    `fixed`: work already booked that the day must hold as it is (a day plan's bookings), solved
    reproducibly: LANE_WORK for the count, `refine_work` for the arrangement."""
    # Imported here: OR-Tools takes most of a second to import, and only the task's worker solves.
    from ortools.sat.python import cp_model

    started = time.monotonic()

    def outcome(status: str, template: DayTemplateSolution | None = None) -> DayTemplateOutcome:
        return DayTemplateOutcome(status=status, solve_seconds=time.monotonic() - started, template=template)

    step, opens, closes, cells = rules.step_minutes, rules.opens, rules.closes, rules.cells
    setups_per_nurse, max_patients_per_nurse = rules.setups_per_nurse, rules.max_patients_per_nurse
    nurses = [
        sum(_minutes(s.starts) <= opens + i * step and opens + (i + 1) * step <= _minutes(s.ends) for s in nurse_shifts)
        for i in range(cells)
    ]
    usable = [p for p in rules.protocols if p.chair_minutes > 0 and p.weight > 0]
    if not cells or not max(nurses, default=0) or not usable or not chairs:
        return outcome("INFEASIBLE")

    model = cp_model.CpModel()
    most_nurses = max(nurses)
    setup_cap = most_nurses * setups_per_nurse
    watch_cap = most_nurses * max_patients_per_nurse
    setup_intervals, setup_demands = _capacity_blocks(
        model, [n * setups_per_nurse for n in nurses], opens, step, setup_cap
    )
    watch_intervals, watch_demands = _capacity_blocks(
        model, [n * max_patients_per_nurse for n in nurses], opens, step, watch_cap
    )
    fixed_given = fixed is not None
    fixed = fixed or FixedWork()
    for begins, ends in fixed.hands:
        setup_intervals.append(model.new_fixed_size_interval_var(begins, ends - begins, ""))
        setup_demands.append(1)
    for begins, ends in fixed.watched:
        watch_intervals.append(model.new_fixed_size_interval_var(begins, ends - begins, ""))
        watch_demands.append(1)

    # (chair id, slot, protocol) -> presence; (chair id, slot) -> start in grid cells from opening.
    chosen: dict[tuple[int, int, int], cp_model.IntVar] = {}
    cell_of: dict[tuple[int, int], cp_model.IntVar] = {}
    first_used: dict[int, cp_model.IntVar] = {}
    by_protocol: dict[int, list[cp_model.IntVar]] = {p.id: [] for p in usable}
    for chair in chairs:
        fitting = [p for p in usable if p.route in chair.routes and p.chair_minutes <= closes - opens]
        if not fitting:
            continue
        slots = (closes - opens) // min(p.chair_minutes for p in fitting)
        no_overlap: list[cp_model.IntervalVar] = [
            model.new_fixed_size_interval_var(begins, ends - begins, "")
            for begins, ends in fixed.chairs.get(chair.id, ())
        ]
        previous: tuple[cp_model.IntVar, cp_model.LinearExpr] | None = None
        for slot in range(slots):
            cell = model.new_int_var(0, cells, f"cell_{chair.id}_{slot}")
            start = opens + step * cell
            used = model.new_bool_var(f"used_{chair.id}_{slot}")
            options = []
            for protocol in fitting:
                present = model.new_bool_var(f"x_{chair.id}_{slot}_{protocol.id}")
                options.append((protocol, present))
                chosen[chair.id, slot, protocol.id] = present
                by_protocol[protocol.id].append(present)
                session = model.new_optional_interval_var(
                    start, protocol.chair_minutes, start + protocol.chair_minutes, present, ""
                )
                model.add(start + protocol.chair_minutes <= closes).only_enforce_if(present)
                _keep_off_seams(model, start, protocol.chair_minutes, fixed.seams, present)
                no_overlap.append(session)
                watch_intervals.append(session)
                watch_demands.append(1)
                for offset, length in protocol.hands_on():
                    setup_intervals.append(
                        model.new_optional_interval_var(start + offset, length, start + offset + length, present, "")
                    )
                    setup_demands.append(1)
            model.add(sum(present for _, present in options) == used)
            model.add(cell == 0).only_enforce_if(~used)  # an empty slot does not count as a late start
            end = start + sum(p.chair_minutes * present for p, present in options)
            if previous is not None:
                # Slots fill in order, each after the one before: no two orderings of one day.
                earlier_used, earlier_end = previous
                model.add_implication(used, earlier_used)
                model.add(start >= earlier_end).only_enforce_if(used)
            previous = (used, end)
            cell_of[chair.id, slot] = cell
            if slot == 0:
                first_used[chair.id] = used
        model.add_no_overlap(no_overlap)
    # Chairs equipped alike are interchangeable: keep only the arrangements where they are in
    # order of their first start, unused ones last. The same days, without the 12! copies to search.
    alike: dict[frozenset[str], list[int]] = {}
    for chair in chairs:
        # A chair with sessions booked on it is no longer like the others.
        if chair.id in first_used and not fixed.chairs.get(chair.id):
            alike.setdefault(chair.routes, []).append(chair.id)
    for group in alike.values():
        for earlier, later in itertools.pairwise(group):
            model.add_implication(first_used[later], first_used[earlier])
            model.add(cell_of[earlier, 0] <= cell_of[later, 0]).only_enforce_if(first_used[later])
    if not chosen:
        return outcome("INFEASIBLE")
    model.add_cumulative(setup_intervals, setup_demands, setup_cap)
    model.add_cumulative(watch_intervals, watch_demands, watch_cap)

    total = sum(chosen.values())
    model.maximize(total)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    # A day plan's lane: the work budget decides, and the whole limit only bounds a slow machine.
    share = 1.0 if fixed_given else 0.6
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_seconds * share - (time.monotonic() - started))
    if fixed_given:
        _reproducible(solver, LANE_WORK)
    status = solver.solve(model)
    status_name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return outcome(status_name)
    best = round(solver.objective_value)
    if best <= 0:
        # Around booked work, no room is an answer (the day is full); for an empty day it is none.
        return outcome(status_name if fixed_given else _nothing_held(status))

    # Phase 2: hold the count, then the mix, then early (staggered) starts.
    model.add(total >= best)
    for var in [*chosen.values(), *cell_of.values()]:
        model.add_hint(var, solver.value(var))
    _minimize_mix_then_lateness(model, usable, by_protocol, total, len(chosen), list(cell_of.values()), cells)
    # Proving the earliest arrangement optimal can take long, and a good one is found early:
    # phase 2 gets at most half the limit, so the whole solve ends well inside it.
    remaining = time_limit_seconds - (time.monotonic() - started)
    second = cp_model.CpSolver()
    second.parameters.num_workers = workers
    if fixed_given:
        _reproducible(second, refine_work)
        second.parameters.max_time_in_seconds = max(0.01, remaining)
    else:
        # A twentieth of the limit is kept for reading the answer back.
        second.parameters.max_time_in_seconds = max(
            0.01, min(remaining - time_limit_seconds / 20, time_limit_seconds / 2)
        )
    refined = second.solve(model)
    final = second if refined in (cp_model.OPTIMAL, cp_model.FEASIBLE) else solver

    starts: dict[int, list[tuple[dt.time, int]]] = {}
    held = 0
    for (chair_id, slot, protocol_id), present in chosen.items():
        if final.value(present):
            minute = opens + step * final.value(cell_of[chair_id, slot])
            starts.setdefault(chair_id, []).append((_clock(minute), protocol_id))
            held += 1
    for chair_starts in starts.values():
        chair_starts.sort()
    # OPTIMAL when the count is proven the most a day can hold, whatever phase 2 reached.
    return outcome(status_name, DayTemplateSolution(starts=starts, sessions_per_day=held))


@dataclass(frozen=True)
class _PlanNurse:
    """One nurse on a day plan's day, in wall-clock minutes: shifts, booked sessions, hands-on work."""

    id: int
    shifts: Sequence[tuple[int, int]]
    watched: Sequence[tuple[int, int]]
    hands: Sequence[tuple[int, int]]


def _load_blocks(
    model: cp_model.CpModel, spans: Sequence[tuple[int, int]], capacity: int
) -> tuple[list[cp_model.IntervalVar], list[int]]:
    """Fixed intervals carrying the load of `spans` ([start, end) minutes, each one unit) on a
    cumulative of `capacity`, at most the capacity at any minute: what is already there uses up
    what it uses, and never makes the day infeasible by itself."""
    changes: dict[int, int] = {}
    for begins, ends in spans:
        if ends > begins:
            changes[begins] = changes.get(begins, 0) + 1
            changes[ends] = changes.get(ends, 0) - 1
    intervals, loads = [], []
    level = 0
    points = sorted(changes)
    for here, there in itertools.pairwise(points):
        level += changes[here]
        load = min(level, capacity)
        if load > 0:
            intervals.append(model.new_fixed_size_interval_var(here, there - here, ""))
            loads.append(load)
    return intervals, loads


def _solve_by_nurse(
    *,
    chairs: Sequence[ChairSpec],
    nurses: Sequence[_PlanNurse],
    rules: DayRules,
    time_limit_seconds: float,
    workers: int,
    busy: Mapping[int, Sequence[tuple[int, int]]] | None = None,
    work: float | None = None,
    hint: Mapping[int, Sequence[tuple[int, int]]] | None = None,
    at_most: int | None = None,
) -> DayTemplateOutcome:
    """The day per nurse when the nurses cannot each keep chairs of their own (shifts that differ
    hand the chairs over during the day; more nurses than chairs share them). Each nurse's
    sessions are tracks of her own, one per shift: inside it, her hands-on work (with what she
    has booked) at most the setups per nurse at once, at most the ratio watched, exactly as
    booking holds one nurse (booked work that already exceeds them only uses them up:
    `_load_blocks`). The chairs are only counted: each session is in one group of chairs equipped
    alike that takes its route, and at no minute does a group hold more sessions than its chairs
    free (`busy`: chair -> booked or closed [start, end) minutes). The sessions then get chairs of
    their group by start time (`_deal_chairs`): with nothing booked a count that fits always
    does (intervals need no more chairs than meet at one minute), so the day holds what the model
    counted and every start names a nurse who can take it (`DayTemplateSolution.shifts`:
    (chair, start) -> the nurse's id). Same objectives as the pooled model: the most sessions,
    then the mix, then early starts (within each nurse's shift). With `work`, each phase is reproducible on that budget of deterministic work
    (`_reproducible`, one thread; `workers` is then ignored). `hint`: nurse id -> [(start minute,
    protocol id)], a day to start the search from; `at_most`, a proven bound on the count (the
    pooled model's optimum), which lets the search stop as soon as it is reached."""
    from ortools.sat.python import cp_model

    started = time.monotonic()
    busy = busy or {}

    def outcome(status: str, template: DayTemplateSolution | None = None) -> DayTemplateOutcome:
        return DayTemplateOutcome(status=status, solve_seconds=time.monotonic() - started, template=template)

    step, opens, closes, cells = rules.step_minutes, rules.opens, rules.closes, rules.cells
    setups_per_nurse, max_patients_per_nurse = rules.setups_per_nurse, rules.max_patients_per_nurse
    usable = [
        p
        for p in rules.protocols
        if 0 < p.chair_minutes <= closes - opens and p.weight > 0 and any(p.route in c.routes for c in chairs)
    ]
    if not cells or not usable or not nurses:
        return outcome("INFEASIBLE")
    shortest = min(p.chair_minutes for p in usable)
    least_hands = min(sum(length for _, length in p.hands_on()) for p in usable)

    model = cp_model.CpModel()
    # Chairs equipped alike form a group; each session is in one group's count. Within a group,
    # dealing by start time seats every session the count lets in (nothing booked in the way).
    groups: dict[frozenset[str], list[ChairSpec]] = {}
    for chair in chairs:
        if any(p.route in chair.routes for p in usable):
            groups.setdefault(chair.routes, []).append(chair)
    # (track, slot, protocol, group) -> presence
    chosen: dict[tuple[int, int, int, frozenset[str]], cp_model.IntVar] = {}
    cell_of: dict[tuple[int, int], cp_model.IntVar] = {}
    low: dict[tuple[int, int], int] = {}  # each slot's earliest cell: its shift's first
    owner: dict[int, int] = {}  # track -> nurse id
    by_protocol: dict[int, list[cp_model.IntVar]] = {p.id: [] for p in usable}
    in_group: dict[frozenset[str], list[cp_model.IntervalVar]] = {routes: [] for routes in groups}
    counts: dict[int, list[cp_model.IntVar]] = {}
    for nurse in nurses:
        # Booked work the nurse already carries, up to her limits (booking may have let in more,
        # e.g. a check inside a setup, or limits lowered since): it leaves her the rest.
        hands, hand_loads = _load_blocks(model, nurse.hands, setups_per_nurse)
        watched, watch_loads = _load_blocks(model, nurse.watched, max_patients_per_nurse)
        counts[nurse.id] = []
        for begins, ends in sorted(nurse.shifts):
            first = max(opens, math.ceil(begins / step) * step)
            last = min(closes, ends)
            span = last - first
            # No nurse holds more than the ratio at once, nor more hands-on work than her shift.
            slots = max_patients_per_nurse * (span // shortest) if span >= shortest else 0
            if least_hands:
                slots = min(slots, setups_per_nurse * span // least_hands)
            track = len(owner)
            owner[track] = nurse.id
            hinted = sorted(
                (start, protocol_id)
                for start, protocol_id in (hint or {}).get(nurse.id, ())
                if first <= start and (start - opens) % step == 0 and start < last
            )[:slots]
            previous: tuple[cp_model.IntVar, cp_model.IntVar] | None = None
            for slot in range(slots):
                cell = model.new_int_var((first - opens) // step, cells, f"cell_{track}_{slot}")
                start = opens + step * cell
                used = model.new_bool_var(f"used_{track}_{slot}")
                wanted = hinted[slot] if slot < len(hinted) else None
                if hint is not None:
                    model.add_hint(cell, (wanted[0] - opens) // step if wanted else (first - opens) // step)
                    model.add_hint(used, wanted is not None)
                options = []
                for protocol in usable:
                    takes = model.new_bool_var(f"x_{track}_{slot}_{protocol.id}")
                    if hint is not None:
                        model.add_hint(takes, wanted is not None and wanted[1] == protocol.id)
                    options.append(takes)
                    by_protocol[protocol.id].append(takes)
                    session = model.new_optional_interval_var(
                        start, protocol.chair_minutes, start + protocol.chair_minutes, takes, ""
                    )
                    model.add(start + protocol.chair_minutes <= last).only_enforce_if(takes)
                    watched.append(session)
                    watch_loads.append(1)
                    for offset, length in protocol.hands_on():
                        hands.append(
                            model.new_optional_interval_var(start + offset, length, start + offset + length, takes, "")
                        )
                        hand_loads.append(1)
                    fitting = [routes for routes in groups if protocol.route in routes]
                    seated = []
                    for routes in fitting:
                        present = takes if len(fitting) == 1 else model.new_bool_var("")
                        seated.append(present)
                        chosen[track, slot, protocol.id, routes] = present
                        in_group[routes].append(
                            model.new_optional_interval_var(
                                start, protocol.chair_minutes, start + protocol.chair_minutes, present, ""
                            )
                        )
                    if len(fitting) > 1:
                        model.add(sum(seated) == takes)
                model.add(sum(options) == used)
                if previous is not None:
                    # A track's slots fill in order of their starts: no two orderings of one day.
                    model.add_implication(used, previous[0])
                    model.add(cell >= previous[1]).only_enforce_if(used)
                model.add(cell == (first - opens) // step).only_enforce_if(~used)
                previous = (used, cell)
                cell_of[track, slot] = cell
                low[track, slot] = (first - opens) // step
                counts[nurse.id].append(used)
        if hands:
            model.add_cumulative(hands, hand_loads, setups_per_nurse)
        if watched:
            model.add_cumulative(watched, watch_loads, max_patients_per_nurse)
    if not chosen:
        return outcome("INFEASIBLE")
    # Nurses on the same shifts with nothing booked are interchangeable: the earlier holds at least as many.
    for earlier, later in itertools.pairwise(nurses):
        if (
            sorted(earlier.shifts) == sorted(later.shifts)
            and not (earlier.hands or earlier.watched or later.hands or later.watched)
            and counts[earlier.id]
        ):
            model.add(sum(counts[earlier.id]) >= sum(counts[later.id]))
    for routes, members in groups.items():
        # What is booked or closed on a group's chairs takes one of them while it lasts.
        taken, loads = _load_blocks(model, [span for c in members for span in busy.get(c.id, ())], len(members))
        intervals = in_group[routes]
        model.add_cumulative([*intervals, *taken], [1] * len(intervals) + loads, len(members))

    total = sum(chosen.values())
    if at_most is not None:
        # As the objective's own domain: a constraint on the sum alone leaves the search's bound
        # at the model's, and the search would go on after reaching the count.
        bounded = model.new_int_var(0, at_most, "count")
        model.add(bounded == total)
        model.maximize(bounded)
    else:
        model.maximize(total)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_seconds * 0.6 - (time.monotonic() - started))
    if work is not None:
        solver.parameters.max_time_in_seconds = max(0.01, time_limit_seconds - (time.monotonic() - started))
        _reproducible(solver, work)
    status = solver.solve(model)
    status_name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return outcome(status_name)
    if round(solver.objective_value) <= 0:
        # Around booked work, no room is an answer (the day is full); for an empty day it is none.
        return outcome(status_name if busy or work is not None else _nothing_held(status))
    model.add(total >= round(solver.objective_value))
    # The first phase's answer is the second's start (replacing any hint given: a variable hinted
    # twice makes the model invalid).
    model.clear_hints()  # type: ignore[no-untyped-call]  # OR-Tools leaves it unannotated
    for var in [*chosen.values(), *cell_of.values()]:
        model.add_hint(var, solver.value(var))
    # Early starts within each nurse's shift: a slot counts its cells after her shift's first.
    _minimize_mix_then_lateness(
        model, usable, by_protocol, total, len(chosen), [cell - low[key] for key, cell in cell_of.items()], cells
    )
    second = cp_model.CpSolver()
    second.parameters.num_workers = workers
    remaining = time_limit_seconds - (time.monotonic() - started)
    second.parameters.max_time_in_seconds = max(0.01, min(remaining - time_limit_seconds / 20, time_limit_seconds / 2))
    if work is not None:
        second.parameters.max_time_in_seconds = max(0.01, remaining)
        _reproducible(second, PLAN_REFINE_WORK)
    refined = second.solve(model)
    final = second if refined in (cp_model.OPTIMAL, cp_model.FEASIBLE) else solver
    minutes = {p.id: p.chair_minutes for p in usable}
    starts: dict[int, list[tuple[dt.time, int]]] = {}
    shifts: dict[tuple[int, dt.time], int] = {}
    for routes, members in groups.items():
        sessions = [
            (opens + step * final.value(cell_of[track, slot]), protocol_id, owner[track])
            for (track, slot, protocol_id, group), present in chosen.items()
            if group == routes and final.value(present)
        ]
        dealt, nurses_of = _deal_chairs(members, sessions, minutes, busy)
        starts.update(dealt)
        shifts.update(nurses_of)
    counted = sum(final.value(present) for present in chosen.values())
    held = sum(len(rows) for rows in starts.values())
    # OPTIMAL only when every counted session found a chair (it always does with nothing
    # booked: intervals need no more chairs of a group than meet at one minute).
    return outcome(
        status_name if held == counted else "FEASIBLE",
        DayTemplateSolution(starts=starts, sessions_per_day=held, shifts=shifts),
    )


def _deal_chairs(
    chairs: Sequence[ChairSpec],
    sessions: Sequence[tuple[int, int, int]],
    minutes: Mapping[int, int],
    busy: Mapping[int, Sequence[tuple[int, int]]],
) -> tuple[dict[int, list[tuple[dt.time, int]]], dict[tuple[int, dt.time], int]]:
    """Chairs of one group (equipped alike) for its (start minute, protocol, nurse) sessions, by
    start time: each takes a chair free for all of it (`busy`: what is booked or closed there),
    the least used so far, then the lowest id. A session left without a chair is dropped
    (possible only with sessions booked in the way). Returns chair -> [(start, protocol)] and
    (chair, start) -> nurse."""
    taken = {c.id: list(busy.get(c.id, ())) for c in chairs}
    used = {c.id: 0 for c in chairs}
    starts: dict[int, list[tuple[dt.time, int]]] = {}
    nurses: dict[tuple[int, dt.time], int] = {}
    for start, protocol_id, nurse in sorted(sessions, key=lambda s: (s[0], -minutes[s[1]], s[2], s[1])):
        end = start + minutes[protocol_id]
        free = [c for c in chairs if not any(a < end and start < b for a, b in taken[c.id])]
        if not free:
            continue
        chair = min(free, key=lambda c: (used[c.id], c.id))
        taken[chair.id].append((start, end))
        used[chair.id] += minutes[protocol_id]
        starts.setdefault(chair.id, []).append((_clock(start), protocol_id))
        nurses[chair.id, _clock(start)] = nurse
    for rows in starts.values():
        rows.sort()
    return starts, nurses


@dataclass(frozen=True)
class DayPlanOutcome:
    """A day re-solved around its bookings: chair id -> the local starts still to fill (the plan),
    for the chairs whose nurse's solve found an answer; `kept` the chairs left to the site's
    template (no answer in time, or bookings no day of the model can hold)."""

    starts: dict[int, list[tuple[dt.time, int]]]
    kept: frozenset[int]
    status: str
    solve_seconds: float
    # (chair id, local start) -> the nurse the plan gives that start.
    nurses: dict[tuple[int, dt.time], int] = field(default_factory=dict)
    # Sessions the nurse-per-chair solve held, before the whole day was solved with any nurse on any
    # chair (solve_day_plan); for solve_day_plan_by_nurse, the sessions it planned.
    by_lanes: int = 0

    @property
    def sessions(self) -> int:
        return sum(len(rows) for rows in self.starts.values())


def _wall_minutes(span: Span, day: dt.date, zone: ZoneInfo, *, within: bool = False) -> tuple[int, int]:
    """`span` as [start, end) minutes of `day`'s local wall clock, clipped to the day. What it holds
    (a session, a closure) has its start rounded down and its end up to the minute (a session ending
    at 11:00:30 holds 11:00); with `within` (a shift: time a session must fit inside), the other way."""

    def minute(instant: dt.datetime, *, up: bool) -> int:
        local = instant.astimezone(zone)
        if local.date() != day:
            return 0 if local.date() < day else 24 * 60
        return local.hour * 60 + local.minute + int(up and (local.second > 0 or local.microsecond > 0))

    return minute(span.start, up=within), minute(span.end, up=not within)


def _clock_change_minutes(day: dt.date, zone: ZoneInfo) -> list[tuple[int, int]]:
    """The [start, end) minutes of `day`'s wall clock that are not one real minute each: those the
    clocks skip (02:00-03:00 on the spring night in New York: no session can start there, and one
    across them lasts an hour less on the wall than in real time) and those they show twice
    (01:00-02:00 on the autumn night: a start there is ambiguous, and a session across them lasts
    an hour more). A plan, solved in wall-clock minutes, holds no session there; everywhere else a
    wall minute is a real one. Empty on an ordinary day."""
    begins, ends = day_bounds(day, zone)
    if ends - begins == dt.timedelta(days=1):
        return []
    odd = []
    for minute in range(24 * 60):
        naive = dt.datetime.combine(day, _clock(minute))
        # The two readings of a wall time (PEP 495's fold) differ only where it is skipped or repeated.
        if naive.replace(tzinfo=zone, fold=0).utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset():
            odd.append((minute, minute + 1))
    return _merged(odd)


def _merged(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Non-empty [start, end) spans, those that overlap or touch joined (a chair's no-overlap
    takes them as they are)."""
    merged: list[tuple[int, int]] = []
    for begins, ends in sorted(span for span in spans if span[1] > span[0]):
        if merged and begins <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ends))
        else:
            merged.append((begins, ends))
    return merged


def _seams(shifts: Sequence[tuple[int, int]]) -> list[int]:
    """The minutes where one of a nurse's shifts ends as the next begins: booking gives a session
    only to a nurse one of whose shifts covers all of it, so no session may span a seam."""
    ordered = sorted(shifts)
    return [earlier[1] for earlier, later in itertools.pairwise(ordered) if earlier[1] == later[0]]


# How much work (CP-SAT's deterministic seconds, the same on any machine) the whole-day solve of a
# day plan may do after the lanes' answer.
IMPROVE_WORK = 0.2


def _day_rules(snapshot: SiteSnapshot, hours: tuple[dt.time, dt.time], protocols: Sequence[ProtocolSpec]) -> DayRules:
    """A day plan's rules: the day's opening hours and the site's limits."""
    return DayRules(
        opening=hours,
        protocols=protocols,
        setups_per_nurse=snapshot.setups_per_nurse or 1,
        max_patients_per_nurse=snapshot.max_patients_per_nurse,
        step_minutes=snapshot.step_minutes,
    )


def _plan_day(
    snapshot: SiteSnapshot, day: dt.date
) -> tuple[
    tuple[dt.time, dt.time] | None, list[_PlanNurse], dict[int, list[tuple[int, int]]], dict[int, list[tuple[int, int]]]
]:
    """One day of `snapshot` in wall-clock minutes, as a day plan's solve takes it: its opening
    hours (None when closed), the nurses on shift during them (by id) with their shifts, booked
    sessions and hands-on work, each chair's booked sessions, and each chair's booked or closed
    minutes (merged; the hour the clocks skip or repeat that night is closed)."""
    zone = snapshot.zone
    hours = snapshot.opening.get(day.weekday())
    opens, closes = (_minutes(hours[0]), _minutes(hours[1])) if hours else (0, 0)
    nurses = []
    for n in sorted(snapshot.nurses, key=lambda n: n.id):
        shifts = [w for w in (_wall_minutes(s, day, zone, within=True) for s in n.shifts) if w[1] > w[0]]
        if any(a < closes and opens < b for a, b in shifts):
            nurses.append(
                _PlanNurse(
                    id=n.id,
                    shifts=shifts,
                    watched=[w for w in (_wall_minutes(s, day, zone) for s in n.booked) if w[1] > w[0]],
                    hands=[h for h in (_wall_minutes(s, day, zone) for s in n.hands_on) if h[1] > h[0]],
                )
            )
    # The night the clocks change, their skipped or repeated hour is closed like a closure: the
    # grid's wall minutes are real ones on either side of it, so no session spans it.
    closed = [*(_wall_minutes(span, day, zone) for span, _ in snapshot.closures), *_clock_change_minutes(day, zone)]
    sessions = {
        c.id: [w for w in (_wall_minutes(s, day, zone) for s in c.busy) if w[1] > w[0]] for c in snapshot.chairs
    }
    # A chair out of use for a while is closed to new sessions then, like the site.
    busy = {
        c.id: _merged([*sessions[c.id], *closed, *(_wall_minutes(span, day, zone) for span, _ in c.out_of_use)])
        for c in snapshot.chairs
    }
    return hours, nurses, sessions, busy


def solve_day_plan(
    *,
    snapshot: SiteSnapshot,
    day: dt.date,
    lanes: Mapping[int, int],
    protocols: Sequence[ProtocolSpec],
    ceiling: int | None = None,
    time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS,
    improve_work: float = IMPROVE_WORK,
) -> DayPlanOutcome:
    """The site's per-nurse day template solved again for one day, around the sessions already
    booked on it: the most further sessions the day can hold, and their starts.

    A template's rhythm suits an empty day. Sessions booked off it (before the template existed,
    or by hand) each block two of its places where they could block one; solved around them, the
    day takes as many more as booking's rules allow. First the chairs keep the template's lanes:
    lane k is the k-th nurse on shift during opening hours that day (by id, as placement gives a
    template chair its nurse), and each nurse's chairs are solved with that nurse's own booked
    work, which is exact for new sessions given to that nurse. Then, unless that already reaches
    `ceiling` (the template's sessions a day) with what is booked, the whole day is solved from
    that answer with any nurse on any chair (a session booked by another nurse on a lane's chair
    binds two lanes), for `improve_work` of deterministic work, and taken if it holds more: its
    starts then name their nurse. `snapshot` must hold the day (`site_snapshot` over it)."""
    started = time.monotonic()
    hours, nurses, sessions, busy = _plan_day(snapshot, day)
    chairs = [ChairSpec(id=c.id, routes=c.routes) for c in snapshot.chairs if c.id in lanes]
    if hours is None or not chairs or not nurses:
        return DayPlanOutcome(starts={}, kept=frozenset(c.id for c in chairs), status="INFEASIBLE", solve_seconds=0.0)
    booked = sum(len(spans) for spans in sessions.values())
    rules = _day_rules(snapshot, hours, protocols)
    plan_nurses = {n.id: n for n in nurses}
    by_nurse: dict[int, list[ChairSpec]] = {}
    for chair in chairs:
        by_nurse.setdefault(nurses[lanes[chair.id] % len(nurses)].id, []).append(chair)
    starts: dict[int, list[tuple[dt.time, int]]] = {}
    nurses_of: dict[tuple[int, dt.time], int] = {}
    kept: set[int] = set()
    statuses: list[str] = []
    for nurse_id in (n.id for n in nurses if n.id in by_nurse):
        group, nurse = by_nurse[nurse_id], plan_nurses[nurse_id]
        left = time_limit_seconds - (time.monotonic() - started)
        solved = _solve(
            chairs=group,
            nurse_shifts=[NurseShift(_clock(a), _clock(min(b, 24 * 60 - 1))) for a, b in nurse.shifts],
            rules=rules,
            # A bound only (the work budget decides): whatever is left of the day's limit.
            time_limit_seconds=max(0.05, left),
            workers=1,  # one interleaving thread (`_reproducible`)
            fixed=FixedWork(
                chairs={c.id: busy[c.id] for c in group},
                watched=nurse.watched,
                hands=nurse.hands,
                seams=_seams(nurse.shifts),
            ),
        )
        statuses.append(solved.status)
        if solved.template is None and solved.status != "OPTIMAL":
            kept.update(c.id for c in group)
            continue
        for chair in group:
            starts[chair.id] = list(solved.template.starts.get(chair.id, ())) if solved.template else []
            nurses_of.update({(chair.id, clock): nurse_id for clock, _ in starts[chair.id]})
    by_lanes = sum(len(rows) for rows in starts.values())
    status = "OPTIMAL" if all(s == "OPTIMAL" for s in statuses) else ("FEASIBLE" if starts else "INFEASIBLE")
    left = time_limit_seconds - (time.monotonic() - started)
    room = ceiling is None or booked + by_lanes < ceiling
    if not kept and starts and room and improve_work > 0 and left > 0.05:
        whole = _solve_whole_day(
            chairs=chairs,
            nurses=list(plan_nurses.values()),
            busy=busy,
            rules=rules,
            hint={c: [(clock, p, nurses_of[c, clock]) for clock, p in rows] for c, rows in starts.items()},
            work=improve_work,
            time_limit_seconds=left,
        )
        if whole is not None and sum(len(rows) for rows in whole.values()) > by_lanes:
            starts = {c: [(clock, p) for clock, p, _ in rows] for c, rows in whole.items()}
            nurses_of = {(c, clock): n for c, rows in whole.items() for clock, _, n in rows}
            status = "FEASIBLE"
    return DayPlanOutcome(
        starts=starts,
        kept=frozenset(kept),
        status=status,
        solve_seconds=time.monotonic() - started,
        nurses=nurses_of,
        by_lanes=by_lanes,
    )


def solve_day_plan_by_nurse(
    *,
    snapshot: SiteSnapshot,
    day: dt.date,
    protocols: Sequence[ProtocolSpec],
    time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS,
    work: float = LANE_WORK,
) -> DayPlanOutcome:
    """A template of nurses who cannot keep chairs of their own (different shifts, or more nurses
    than chairs), solved again for one day around the sessions booked on it (`_solve_rostered`):
    each nurse on shift that day with her shifts (a session spans no seam between two) and her
    booked work, the chairs around what is booked or closed on them. Reproducible on `work`
    (`_reproducible`). Every start names its nurse (`DayPlanOutcome.nurses`). Without an answer
    (out of time, or nothing the model can hold) every chair is `kept`: the day keeps the
    template. `snapshot` must hold the day (`site_snapshot` over it)."""
    started = time.monotonic()
    hours, plan_nurses, _, busy = _plan_day(snapshot, day)
    chairs = [ChairSpec(id=c.id, routes=c.routes) for c in snapshot.chairs]
    everything = frozenset(c.id for c in chairs)
    if hours is None or not chairs or not plan_nurses:
        return DayPlanOutcome(starts={}, kept=everything, status="INFEASIBLE", solve_seconds=0.0)
    solved = _solve_rostered(
        chairs=chairs,
        nurses=plan_nurses,
        rules=_day_rules(snapshot, hours, protocols),
        time_limit_seconds=time_limit_seconds,
        workers=1,
        busy=busy,
        work=work,
    )
    template = solved.template
    if template is None and solved.status != "OPTIMAL":
        return DayPlanOutcome(
            starts={}, kept=everything, status=solved.status, solve_seconds=time.monotonic() - started
        )
    return DayPlanOutcome(
        starts={c: list(rows) for c, rows in template.starts.items()} if template else {},
        kept=frozenset(),
        status=solved.status,
        solve_seconds=time.monotonic() - started,
        nurses=dict(template.shifts) if template else {},
        by_lanes=template.sessions_per_day if template else 0,
    )


def _solve_whole_day(
    *,
    chairs: Sequence[ChairSpec],
    nurses: Sequence[_PlanNurse],
    busy: Mapping[int, Sequence[tuple[int, int]]],
    rules: DayRules,
    hint: Mapping[int, Sequence[tuple[dt.time, int, int]]],
    work: float,
    time_limit_seconds: float,
) -> dict[int, list[tuple[dt.time, int, int]]] | None:
    """The most further sessions one day holds around its booked work, each new session with any
    nurse on any equipped chair (booking's rules per nurse: hands-on work at most the setups per
    nurse at once, at most the ratio watched, inside the nurse's shifts), then the earliest starts.
    Started from `hint` (chair -> [(start, protocol, nurse)], a feasible answer) and stopped at
    the time limit: chair id -> [(start, protocol id, nurse id)], or None without an answer."""
    from ortools.sat.python import cp_model

    step, opens, closes, cells = rules.step_minutes, rules.opens, rules.closes, rules.cells
    setups_per_nurse, max_patients_per_nurse = rules.setups_per_nurse, rules.max_patients_per_nurse
    usable = [p for p in rules.protocols if p.chair_minutes > 0 and p.weight > 0]
    if not cells or not usable or not nurses:
        return None
    model = cp_model.CpModel()
    hands: dict[int, tuple[list[cp_model.IntervalVar], list[int]]] = {}
    watched: dict[int, tuple[list[cp_model.IntervalVar], list[int]]] = {}
    for nurse in nurses:
        on = [
            int(any(a <= opens + i * step and opens + (i + 1) * step <= b for a, b in nurse.shifts))
            for i in range(cells)
        ]
        hands[nurse.id] = _capacity_blocks(model, [n * setups_per_nurse for n in on], opens, step, setups_per_nurse)
        watched[nurse.id] = _capacity_blocks(
            model, [n * max_patients_per_nurse for n in on], opens, step, max_patients_per_nurse
        )
        for begins, ends in nurse.hands:
            hands[nurse.id][0].append(model.new_fixed_size_interval_var(begins, ends - begins, ""))
            hands[nurse.id][1].append(1)
        for begins, ends in nurse.watched:
            watched[nurse.id][0].append(model.new_fixed_size_interval_var(begins, ends - begins, ""))
            watched[nurse.id][1].append(1)
    chosen: dict[tuple[int, int, int, int], cp_model.IntVar] = {}
    cell_of: dict[tuple[int, int], cp_model.IntVar] = {}
    for chair in chairs:
        fitting = [p for p in usable if p.route in chair.routes and p.chair_minutes <= closes - opens]
        if not fitting:
            continue
        hinted = sorted(hint.get(chair.id, ()))
        no_overlap = [model.new_fixed_size_interval_var(a, b - a, "") for a, b in busy.get(chair.id, ())]
        previous: tuple[cp_model.IntVar, cp_model.LinearExpr] | None = None
        for slot in range((closes - opens) // min(p.chair_minutes for p in fitting)):
            cell = model.new_int_var(0, cells, "")
            start = opens + step * cell
            used = model.new_bool_var("")
            wanted = hinted[slot] if slot < len(hinted) else None
            model.add_hint(cell, (_minutes(wanted[0]) - opens) // step if wanted else 0)
            model.add_hint(used, wanted is not None)
            options = []
            for protocol in fitting:
                takes = model.new_bool_var("")
                options.append((protocol, takes))
                model.add_hint(takes, wanted is not None and wanted[1] == protocol.id)
                no_overlap.append(
                    model.new_optional_interval_var(
                        start, protocol.chair_minutes, start + protocol.chair_minutes, takes, ""
                    )
                )
                model.add(start + protocol.chair_minutes <= closes).only_enforce_if(takes)
                by_nurse = []
                for nurse in nurses:
                    present = model.new_bool_var("")
                    by_nurse.append(present)
                    chosen[chair.id, slot, protocol.id, nurse.id] = present
                    model.add_hint(present, wanted is not None and wanted[1:] == (protocol.id, nurse.id))
                    _keep_off_seams(model, start, protocol.chair_minutes, _seams(nurse.shifts), present)
                    watched[nurse.id][0].append(
                        model.new_optional_interval_var(
                            start, protocol.chair_minutes, start + protocol.chair_minutes, present, ""
                        )
                    )
                    watched[nurse.id][1].append(1)
                    for offset, length in protocol.hands_on():
                        hands[nurse.id][0].append(
                            model.new_optional_interval_var(
                                start + offset, length, start + offset + length, present, ""
                            )
                        )
                        hands[nurse.id][1].append(1)
                model.add(sum(by_nurse) == takes)
            model.add(sum(takes for _, takes in options) == used)
            model.add(cell == 0).only_enforce_if(~used)
            end = start + sum(p.chair_minutes * takes for p, takes in options)
            if previous is not None:
                model.add_implication(used, previous[0])
                model.add(start >= previous[1]).only_enforce_if(used)
            previous = (used, end)
            cell_of[chair.id, slot] = cell
        model.add_no_overlap(no_overlap)
    if not chosen:
        return None
    for nurse in nurses:
        model.add_cumulative(*hands[nurse.id], setups_per_nurse)
        model.add_cumulative(*watched[nurse.id], max_patients_per_nurse)
    # The most sessions first: one more session outweighs any arrangement of the starts.
    model.maximize((len(cell_of) * cells + 1) * sum(chosen.values()) - sum(cell_of.values()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_seconds)
    _reproducible(solver, work)
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    found: dict[int, list[tuple[dt.time, int, int]]] = {}
    for (chair_id, slot, protocol_id, nurse_id), present in chosen.items():
        if solver.value(present):
            clock = _clock(opens + step * solver.value(cell_of[chair_id, slot]))
            found.setdefault(chair_id, []).append((clock, protocol_id, nurse_id))
    for rows in found.values():
        rows.sort()
    return found


def preferred_starts_of(starts: Mapping[int, Sequence[tuple[dt.time, int]]]) -> dict[int, frozenset[dt.time]]:
    """chair id -> the template's start times on it (what placement and the board prefer)."""
    return {chair_id: frozenset(start for start, _ in rows) for chair_id, rows in starts.items()}
