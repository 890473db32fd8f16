"""Half a year of a ketamine clinic, booked through the real services and played minute by minute.

Issue 17, item 5: the proof that a placement policy (`earliest` against `level`) changes what the
clinic's day looks like. Every booking goes through the same services the API and the desk use
(`course_propose`/`course_book`, `appointment_cancel`, `appointment_mark_no_show` with re-flow,
`plan_enter_maintenance`) on PostgreSQL, with `now` set to the simulated day (and the clock
travelled with time-machine for anything that reads it). Each day's booked sessions are then played
in simpy with the nurses as a shared resource.

The clinic (``../shared/domain.md``, and the measurement in issue 17)
  - one site, America/New_York, open Monday-Friday 08:00-18:00, 12 IV chairs, 4 nurses on shift
    08:00-18:00 every open day, at most 3 patients per nurse (the site default), setups per nurse
    at once (Site.setups_per_nurse) 1, as booking enforces it and as nurses work on the day;
  - one protocol, "IV ketamine, six in three weeks": 120 minutes of chair time, 6 induction
    sessions within 21 days at least 48 h apart, maintenance every 14-42 days, review after 6
    months (the domain brief's "six in two to three weeks" and "every 2 to 6 weeks"; the same
    protocol as the demo seed and the test factories).

Demand, drawn once per seed and identical for every policy
  - new inductions: Poisson arrivals per open weekday at `rate` (the base rate is chosen so that
    `earliest` runs over its closing time, as the issue asks);
  - the patient asks to start on the next open day and accepts the desk's first offered start
    within `START_TOLERANCE_DAYS` (7) of that; otherwise the request is refused (6 sessions);
  - maintenance interval per patient: uniform integer days in [14, 42] (domain brief: every 2-6
    weeks; the protocol's min/max);
  - each booked session, in the order the patient's sessions are first seen (so the k-th session
    of a patient has the same fate under every policy):
      * cancelled with p = 0.10 (issue 17), 1-7 days ahead (uniform; assumption), by the desk
        through `appointment_cancel`; an induction session is re-booked (`rebook=True`, the
        service's re-flow inside the window), a maintenance one is not. One due on a day the site
        is closed (weekend, closure) is made on the open day before; one due after the last
        simulated day is not made (the run ends before it);
      * otherwise a no-show with p = 0.06 (issue 17), marked after the day with
        `appointment_mark_no_show` (induction re-flowed as above);
      * lateness: 70 % on time, otherwise lognormal minutes with median 8 and sigma 0.7, at most
        60 (assumption: no clinic data in the domain brief; most patients are driven in);
      * nurse setup minutes: triangular(15, 20, 30), mode = the protocol's setup minutes (issue 17
        item 1: default 20);
      * the protocol's checks (`nurse_check_offsets_minutes`, default [40] minutes after the
        start, `nurse_check_minutes` 5 each: issue 17 item 1's blood-pressure check 40 minutes after
        dosing) and its discharge (`nurse_discharge_minutes`, default 10) at the end, as stated.

The day, in simpy (minutes from opening)
  - a patient arrives at the scheduled start plus lateness, takes the booked chair (waiting if the
    chair's previous patient has not left), then asks for a nurse: `simpy.PriorityResource` with
    capacity nurses on shift x setups per nurse. Checks and discharges go before setups (a nurse
    finishes with a seated patient first).
  - the chair is held from setup start for the protocol's chair time; the discharge starts 10
    minutes before the end and the patient leaves when it is done.
  - measured: wait from scheduled start to setup start (the issue's definition; lateness is in
    it, the same for both policies) and wait from arrival to setup; starts booked in the same 15
    minutes; patients needing a setup at once; nurse hands-on minutes and chair minutes over the
    open hours; overtime = minutes the last patient leaves after closing.
  - every day is also played with each session's work done by the nurse booking gave it (one
    `simpy.PriorityResource` per nurse, as the board assigns them): its waits and overtime are
    rows of their own.
  - every day is played again `SIM_REPLAYS` (40) times with each patient's lateness and setup drawn
    anew from the same distributions (a stream per session and replay, the same under every
    policy; who cancelled or missed stays as booked): the overtime a day's bookings carry on
    average, and the share of its replays that run over.
  - in the evening the sessions given are recorded completed (a status update, as the day sheet
    records them): level placement takes a patient's usual weekday, time and chair from these.

The day template: after the 4-week warm-up the clinic admin's regeneration runs once (the same
service and solver as the page's Celery task), for both sites; only `level` reads it.

The day ceiling: the most sessions one open day can hold under booking's rules, solved with
CP-SAT on the simulated site (each nurse's chairs exactly: 11 two-hour sessions per nurse, 44 a
day). Each run counts the days booked to it, and a missed raised-demand target says how much
room under it earliest's days still had after its first refusal, which bounds what any policy
could add there.

Afterwards the database is checked: every course's held induction sessions on distinct days,
48 h apart, inside the 21-day window; maintenance gaps inside 14-42 days (the upper bound only
where no session was lost in between); every session inside opening hours; no chair or patient
double-booked; every held session inside one shift of its nurse; no nurse with more held sessions
at once than the site's ratio, nor more hands-on intervals (setup, checks, discharge, as booking
lays them out) at once than its setups per nurse. Any break is a "rule broken".

Targets (issue 17): same demand, `level` against `earliest`: p90 wait at least 40 % lower and
overtime at least 25 % lower (the mean over the replays, or the one draw with SIM_REPLAYS=0: one
draw of lateness per day leaves a half-year's overtime to the luck of a handful of very late
patients); after a 4-week warm-up the busiest weekday holds on average at most
1.5x the sessions of the quietest (missed as not measurable when no day after the warm-up was
played); raised demand (the rate where `earliest` refuses more than 5 % of requests): `level`
delivers at least 10 % more sessions; no rule broken anywhere. Every pair compared (base,
raised, --reference against base earliest) must have seen the same demand.

    .venv/bin/python bench/clinic_simulation.py               # 26 weeks, both demands, 2 at once
    .venv/bin/python bench/clinic_simulation.py --quick       # 8 weeks, smaller search
    .venv/bin/python bench/clinic_simulation.py --reference   # also earliest without the setup limit
    .venv/bin/python bench/clinic_simulation.py --also-seeds 18,19,20,21   # the base demand at 4 more seeds

A full run (four half-years, two at a time; five with --reference) took 15-25 minutes on the shared 2-CPU box at
load 7-10; figures and the distributions are recorded in docs/benchmarks.md.
    .venv/bin/python bench/clinic_simulation.py --weeks 12 --seed 7

SIM_DUMP=<folder> keeps each run's whole figures (with its sessions booked per day) as JSON there;
SIM_TEMPLATE=0 runs without the day template (SIM_TEMPLATE_SECONDS: its solver limit, 10 as in the Celery task);
SIM_DAY_PLANS=0 without re-solving days around their bookings (scheduling.services.day_plans);
SIM_OVERTIME_DETAIL=1 writes each day running over to stderr, with the sessions of the chairs that ran over,
and at the end the replayed overtime by the start of the last patient out and what held them;
SIM_ROSTER=staggered plays two early nurses (07:30-16:00) and two late ones (09:30-18:00) instead
of four on one shift (the issue's targets are for the one-shift clinic).

Each run gets a fresh database copied from a migrated template (`clinic_sim_bench_*`, or the prefix
in BENCH_SIM_DB).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
ZONE = ZoneInfo("America/New_York")
FIRST_DAY = dt.date(2027, 1, 4)  # a Monday
OPENS, CLOSES = 8, 18
CHAIRS = 12
NURSES = 4
WARM_UP_WEEKS = 4
START_TOLERANCE_DAYS = 7
CANCEL_P = 0.10
NO_SHOW_P = 0.06
ON_TIME_P = 0.70
LATE_MEDIAN, LATE_SIGMA, LATE_MAX = 8.0, 0.7, 60.0
SETUP_LOW, SETUP_HIGH = 15.0, 30.0
BASE_RATE = 4.0  # new inductions per open weekday: `earliest` runs over on some days (seed 17, 26 weeks)
RAISED_FROM = 5.0  # the raised-demand search starts here and adds RATE_STEP until earliest refuses > 5 %
RATE_STEP = 1.0
DEFAULT_SEED = 17
# What a nurse really does at once on the day (issue 17: one setup at a time), whatever booking allowed.
HANDS_PER_NURSE = 1
# A reference policy, not a target: `earliest` with booking's setup limit lifted (setups_per_nurse
# = 3, the monitoring ratio), i.e. the behaviour issue 17 measured on main before nurse work.
UNLIMITED = "earliest-no-setup-limit"
PROTOCOL_NAME = "IV ketamine, six in three weeks"
# The site's day template is made once the warm-up is over (issue 17 item 3; both policies get
# it, only `level` reads it).
TEMPLATE_AFTER_WARM_UP = os.environ.get("SIM_TEMPLATE", "1") == "1"
TEMPLATE_SECONDS = float(os.environ.get("SIM_TEMPLATE_SECONDS", "10"))  # the Celery task's limit
# Once the template exists, the coming days whose bookings left its rhythm are solved again around
# them (scheduling.services.day_plans), as beat does every ten minutes; here once a day at 06:30,
# before the morning's bookings (so a day's new bookings wait a day for their re-solve).
DAY_PLANS = os.environ.get("SIM_DAY_PLANS", "1") == "1"
# SIM_OVERTIME_DETAIL=1: each day running over is written to stderr with the sessions of every chair
# that ran past closing (scheduled start, lateness, arrival, chair free, setup, out), to see which
# starts and which lateness make a policy's overtime; at the end of the run, the replayed overtime by
# the start of the last patient out and what held them (`overtime_cause`).
OVERTIME_DETAIL = os.environ.get("SIM_OVERTIME_DETAIL") == "1"
# Each day is played again this many times, every patient's lateness and setup drawn anew (from the
# session's own stream and the replay's number, so both policies see the same draws): the overtime
# a day's bookings carry on average. One draw per day leaves a half-year's overtime to a handful of
# very late patients (a patient 56 minutes late at 15:30 gave 26 of one run's 38 minutes).
REPLAYS = int(os.environ.get("SIM_REPLAYS", "40"))
# The nurses' shifts on every open day, local clock, one per nurse. The issue's clinic has the four
# on one shift, opening to closing. SIM_ROSTER=staggered: two early nurses (07:30-16:00) and two
# late ones (09:30-18:00), a roster the day cannot split into chairs per nurse, so the day
# template is solved per nurse with each start naming its nurse's shift.
ROSTERS = {
    "one-shift": ((dt.time(OPENS), dt.time(CLOSES)),) * NURSES,
    "staggered": ((dt.time(7, 30), dt.time(16)),) * 2 + ((dt.time(9, 30), dt.time(18)),) * 2,
}
ROSTER_NAME = os.environ.get("SIM_ROSTER", "one-shift")
ROSTER = ROSTERS[ROSTER_NAME]


def _minutes_from_opening(clock: dt.time) -> float:
    return (clock.hour - OPENS) * 60 + clock.minute


# Each nurse's minutes on shift while the site is open, summed (nurse utilisation's denominator).
NURSE_OPEN_MINUTES = sum(
    max(0.0, min(_minutes_from_opening(ends), (CLOSES - OPENS) * 60) - max(_minutes_from_opening(begins), 0.0))
    for begins, ends in ROSTER
)

TARGETS = {
    "p90_wait_lower": 0.40,
    "overtime_lower": 0.25,
    "weekday_ratio": 1.5,
    "raised_more_sessions": 0.10,
    "raised_refusal": 0.05,
}


# --- demand (pure: the same for every policy) ----------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    index: int
    day: dt.date
    interval_days: int


@dataclass(frozen=True)
class Fate:
    cancel_lead_days: int | None
    no_show: bool
    lateness: float
    setup: float


def open_days(weeks: int) -> list[dt.date]:
    return [
        FIRST_DAY + dt.timedelta(days=i) for i in range(7 * weeks) if (FIRST_DAY + dt.timedelta(days=i)).weekday() < 5
    ]


def demand(*, seed: int, rate: float, weeks: int) -> list[Arrival]:
    """Poisson arrivals per open weekday and each patient's maintenance interval."""
    rng = random.Random(f"arrivals-{seed}-{rate}")
    arrivals: list[Arrival] = []
    for day in open_days(weeks):
        # Poisson by counting exponential gaps inside one day.
        count, clock = 0, rng.expovariate(rate)
        while clock < 1.0:
            count, clock = count + 1, clock + rng.expovariate(rate)
        for _ in range(count):
            arrivals.append(Arrival(len(arrivals), day, rng.randint(14, 42)))
    return arrivals


def maintenance_lost(plan: Any, created: list[Any]) -> int:
    """The maintenance sessions a layout that stopped at a gap did not place: from the session
    after the last one held or placed (its target, `interval` days on) to the review date."""
    from scheduling.models import Phase

    last = max(
        [a.starts_at for a in created]
        or [
            plan.appointments.filter(phase=Phase.INDUCTION)
            .order_by("-starts_at")
            .values_list("starts_at", flat=True)[0]
        ]
    )
    interval = plan.maintenance_interval_days
    target = last.astimezone(ZONE).date() + dt.timedelta(days=interval)
    return 1 + max(0, (plan.review_date - target).days // interval)


def fate(*, seed: int, patient: int, k: int, setup_mode: float) -> Fate:
    """The k-th session of a patient: drawn from its own stream, so every policy sees the same."""
    rng = random.Random(f"fate-{seed}-{patient}-{k}")
    cancelled = rng.random() < CANCEL_P
    lead = rng.randint(1, 7)
    no_show = rng.random() < NO_SHOW_P
    late = _lateness(rng)
    setup = _setup_minutes(rng, setup_mode)
    return Fate(lead if cancelled else None, (not cancelled) and no_show, late, setup)


def _lateness(rng: random.Random) -> float:
    return 0.0 if rng.random() < ON_TIME_P else min(LATE_MAX, rng.lognormvariate(math.log(LATE_MEDIAN), LATE_SIGMA))


def _setup_minutes(rng: random.Random, mode: float) -> float:
    return rng.triangular(SETUP_LOW, SETUP_HIGH, mode)


def replayed(drawn: Fate, *, seed: int, patient: int, k: int, replay: int, setup_mode: float) -> Fate:
    """The k-th session of a patient in a replay of its day: its lateness and setup drawn again from
    the same distributions, from a stream of the session's and the replay's own (the same under
    every policy); whether it was cancelled or missed stays as it was."""
    rng = random.Random(f"replay-{seed}-{patient}-{k}-{replay}")
    late = _lateness(rng)
    return replace(drawn, lateness=late, setup=_setup_minutes(rng, setup_mode))


def fingerprint(arrivals: list[Arrival]) -> str:
    import hashlib

    return hashlib.sha256(repr([(a.day.isoformat(), a.interval_days) for a in arrivals]).encode()).hexdigest()[:12]


# --- one day in simpy --------------------------------------------------------------------------


@dataclass
class Visit:
    chair: int
    start: float  # scheduled, minutes from opening
    length: float
    fate: Fate
    nurse: int | None = None  # the nurse booking gave the session


@dataclass(frozen=True)
class Played:
    """One session as the day played it, in minutes from opening."""

    visit: Visit
    arrived: float
    chair_free: float  # when it had its chair: on arrival, or when the chair's previous patient left
    seated: float  # its setup began
    out: float


@dataclass
class DayResult:
    waits: list[float] = field(default_factory=list)  # scheduled start -> setup
    waits_after_arrival: list[float] = field(default_factory=list)
    nurse_minutes: float = 0.0
    chair_minutes: float = 0.0
    overtime: float = 0.0
    booked_peak: int = 0  # starts booked in the same 15 minutes
    setup_peak: int = 0  # patients waiting for or in setup at once
    played: list[Played] = field(default_factory=list)  # each session as it went


def play_day(
    visits: list[Visit],
    *,
    nurses: int,
    setups_per_nurse: int,
    check_offsets: list[int],
    check_minutes: float,
    discharge_minutes: float,
    close: float,
    assigned: bool = False,
    shifts: dict[int, tuple[float, float]] | None = None,
) -> DayResult:
    """One day minute by minute. The nurses are one shared pool (`assigned` False: any free nurse
    takes the next piece of work), or each session's work waits for the nurse booking gave it
    (`assigned` True, as the board assigns them). `shifts`: nurse id -> (start, end) minutes from
    opening, for a roster where some nurse comes after opening or leaves before closing: off
    shift, she takes no work (in the pool, one of its places is held for her; work she has in
    hand when her shift ends is finished first, the rest goes to the nurses still there). With
    `assigned`, she takes no work before her shift but stays to finish her booked patients:
    booking keeps their sessions inside her shift, so only a late arrival pushes some of their
    work past its end, and it is hers to finish, not left waiting for a nurse who has gone home.
    Without `shifts`, every nurse is there all day."""
    import simpy

    env = simpy.Environment()
    pool = simpy.PriorityResource(env, capacity=nurses * setups_per_nurse)
    own = {nurse: simpy.PriorityResource(env, capacity=setups_per_nurse) for nurse in {v.nurse for v in visits}}

    def off_shift(staff, begins: float, ends: float):
        """Hold one of `staff`'s places before `begins` and from `ends` (to the end of the day)."""
        if begins > 0:
            with staff.request(priority=-1) as request:
                yield request
                yield env.timeout(begins - env.now)
        if ends < close:
            yield env.timeout(max(0.0, ends - env.now))
            with staff.request(priority=-1) as request:
                yield request
                yield env.timeout(24 * 60)

    for nurse, (begins, ends) in (shifts or {}).items():
        for _ in range(setups_per_nurse):
            env.process(off_shift(pool, begins, ends))
            if nurse in own:
                env.process(off_shift(own[nurse], begins, close))
    chairs = {chair: simpy.Resource(env, capacity=1) for chair in {v.chair for v in visits}}
    result = DayResult()
    result.booked_peak = max(Counter(int(v.start // 15) for v in visits).values(), default=0)
    needing_setup = [0]
    last_out = [0.0]

    def nurse_work(staff, minutes: float, priority: int):
        with staff.request(priority=priority) as request:
            yield request
            yield env.timeout(minutes)
            result.nurse_minutes += minutes

    def patient(visit: Visit):
        staff = own[visit.nurse] if assigned else pool
        yield env.timeout(visit.start + visit.fate.lateness)
        arrived = env.now
        with chairs[visit.chair].request() as chair:
            yield chair
            chair_free = env.now
            needing_setup[0] += 1
            result.setup_peak = max(result.setup_peak, needing_setup[0])
            with staff.request(priority=1) as request:
                yield request
                seated = env.now
                result.waits.append(seated - visit.start)
                result.waits_after_arrival.append(seated - arrived)
                yield env.timeout(visit.fate.setup)
                result.nurse_minutes += visit.fate.setup
            needing_setup[0] -= 1
            for offset in check_offsets:  # minutes after the session's start (the setup)
                if (
                    offset >= visit.fate.setup
                    and seated + offset + check_minutes <= seated + visit.length - discharge_minutes
                ):
                    yield env.timeout(max(0.0, seated + offset - env.now))
                    yield from nurse_work(staff, check_minutes, 0)
            yield env.timeout(max(0.0, seated + visit.length - discharge_minutes - env.now))
            yield from nurse_work(staff, discharge_minutes, 0)
            result.chair_minutes += env.now - seated
            last_out[0] = max(last_out[0], env.now)
            result.played.append(Played(visit, arrived, chair_free, seated, env.now))

    for visit in visits:
        env.process(patient(visit))
    env.run()
    result.overtime = max(0.0, last_out[0] - close)
    return result


def _clock(minutes: float) -> str:
    """Minutes from opening on the clock ("16:00")."""
    return f"{OPENS + int(minutes // 60):02d}:{int(minutes % 60):02d}"


def overtime_detail(day: dt.date, played: DayResult, close: float) -> list[str]:
    """A day running over, and the sessions of every chair one of whose patients left after `close`
    (minutes from opening): which start, which lateness and which wait carried it past closing."""
    if played.overtime <= 0:
        return []
    over = {p.visit.chair for p in played.played if p.out > close}
    lines = [f"{day:%a %Y-%m-%d}: {played.overtime:.1f} min over, {len(played.played)} sessions"]
    for p in sorted(played.played, key=lambda p: (p.visit.chair, p.visit.start)):
        if p.visit.chair in over:
            lines.append(
                f"  chair {p.visit.chair} start {_clock(p.visit.start)} late {p.visit.fate.lateness:.1f} "
                f"arrived {_clock(p.arrived)} chair free {_clock(p.chair_free)} setup {_clock(p.seated)} "
                f"out {_clock(p.out)}"
            )
    return lines


def overtime_cause(played: DayResult) -> tuple[str, str] | None:
    """Who made a day run over (None when it did not): the scheduled start, on the clock, of the last
    patient to leave, and the largest of the delays that carried them past their session's scheduled
    end: "late" (their own lateness), "chair" (waiting for the chair's previous patient to leave),
    "setup" (waiting for a nurse to set them up), "check/discharge" (waiting for a nurse at a check or
    the discharge). A tie goes to the first of these."""
    if played.overtime <= 0:
        return None
    last = max(played.played, key=lambda p: p.out)
    visit = last.visit
    delays = {
        "late": last.arrived - visit.start,
        "chair": last.chair_free - last.arrived,
        "setup": last.seated - last.chair_free,
        "check/discharge": last.out - (last.seated + visit.length),
    }
    return _clock(visit.start), max(delays, key=delays.__getitem__)


# --- the run against the database ---------------------------------------------------------------


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZONE)


def build_clinic(*, policy: str, weeks: int) -> dict:
    """The site, its chairs, nurses, shifts, a desk user, a prescriber and the protocol."""
    from django.contrib.auth import get_user_model

    from clinic.models import Chair, OpeningHours, ReminderPolicy, Role, Shift, Site, StaffMember
    from scheduling.models import Protocol

    site = Site.objects.create(
        name=f"Simulated clinic ({policy})",
        time_zone=str(ZONE),
        address="1 Simulation Way",
        phone="+12025550100",
        placement_policy="earliest" if policy == UNLIMITED else policy,
        # The reference: booking lets a nurse take as many setups at once as patients (the ratio).
        setups_per_nurse=3 if policy == UNLIMITED else 1,
    )
    ReminderPolicy.objects.get_or_create(site=site)
    OpeningHours.objects.bulk_create(
        OpeningHours(site=site, weekday=d, opens_at=dt.time(OPENS), closes_at=dt.time(CLOSES)) for d in range(5)
    )
    Chair.objects.bulk_create(Chair(site=site, name=f"Chair {i + 1:02d}", equipment=["iv"]) for i in range(CHAIRS))
    users = get_user_model()

    def member(username: str, role: str) -> StaffMember:
        user = users.objects.create_user(username=f"sim-{policy}-{username}", password=None)
        staff = StaffMember.objects.create(user=user, role=role)
        staff.sites.add(site)
        return staff

    nurses = [member(f"nurse-{i}", Role.NURSE) for i in range(NURSES)]
    desk = member("desk", Role.FRONT_DESK)
    prescriber = member("prescriber", Role.PRESCRIBER)
    # Shifts as far as maintenance reaches: the review date is 6 months after the last start.
    days = [FIRST_DAY + dt.timedelta(days=i) for i in range(7 * weeks + 7 * 30)]
    Shift.objects.bulk_create(
        Shift(
            staff=n,
            site=site,
            starts_at=_local(day, begins.hour, begins.minute),
            ends_at=_local(day, ends.hour, ends.minute),
        )
        for n, (begins, ends) in zip(nurses, ROSTER, strict=True)
        for day in days
        if day.weekday() < 5
    )
    protocol, _ = Protocol.objects.get_or_create(
        name=PROTOCOL_NAME,
        defaults={
            "route": "iv",
            "session_minutes": 120,
            "infusion_minutes": 40,
            "induction_pattern": "window",
            "induction_sessions": 6,
            "induction_window_days": 21,
            "min_gap_hours": 48,
        },
    )
    return {"site": site, "desk": desk.user, "prescriber": prescriber, "protocol": protocol}


@dataclass
class Tally:
    requested: int = 0
    refused: int = 0
    courses_requested: int = 0
    courses_refused: int = 0
    reflows_refused: int = 0
    maintenance_refused: int = 0
    cancelled: int = 0
    no_shows: int = 0
    delivered: int = 0
    delivered_by_day: dict = field(default_factory=dict)
    waits: list = field(default_factory=list)
    waits_after_arrival: list = field(default_factory=list)
    nurse_minutes: float = 0.0
    chair_minutes: float = 0.0
    overtime: float = 0.0
    overtime_days: int = 0
    booked_peaks: list = field(default_factory=list)
    setup_peaks: list = field(default_factory=list)
    starts_by_hour: Counter = field(default_factory=Counter)
    refusal_reasons: Counter = field(default_factory=Counter)
    booked_by_day: dict = field(default_factory=dict)
    assigned_waits: list = field(default_factory=list)
    assigned_waits_after_arrival: list = field(default_factory=list)
    assigned_overtime: float = 0.0
    assigned_overtime_days: int = 0
    replay_overtime: float = 0.0  # the sum over days of each day's mean over its replays
    replay_overtime_days: float = 0.0  # the sum over days of the share of its replays running over
    # (start of the last patient out, what held them) -> that replayed overtime (`overtime_cause`)
    replay_overtime_by_cause: Counter = field(default_factory=Counter)
    template: dict = field(default_factory=dict)
    plans_solved: int = 0
    plan_seconds: list = field(default_factory=list)
    first_refusal: dt.date | None = None
    lateness: list = field(default_factory=list)


def day_ceiling(*, site, protocol) -> dict:
    """The most sessions one open day of the site can hold under booking's own rules (each session
    one nurse on shift, that nurse's setup, check and discharge one at a time, at most the ratio
    watched at once, every chair's sessions inside opening hours): the day-template solver on the
    simulated site, which solves each nurse's chairs exactly when the nurses share one shift. No
    placement can book a day beyond it."""
    from scheduling.engine.day_template import ChairSpec, NurseShift, solve_day_template
    from scheduling.selectors import template_protocol

    solved = solve_day_template(
        chairs=[ChairSpec(chair.pk, frozenset(chair.equipment)) for chair in site.chairs.all()],
        opening=(dt.time(OPENS), dt.time(CLOSES)),
        nurse_shifts=[NurseShift(begins, ends) for begins, ends in ROSTER],
        protocols=[template_protocol(protocol, weight=1.0)],
        setups_per_nurse=site.setups_per_nurse or 1,
        max_patients_per_nurse=site.max_patients_per_nurse,
        step_minutes=site.slot_step_minutes,
        time_limit_seconds=30,
    )
    return {
        "sessions": solved.template.sessions_per_day if solved.template else 0,
        "status": solved.status,
    }


def desk_days(site) -> Callable[[dt.date], bool]:
    """Whether the site's desk works on a day: one of its opening weekdays, not inside a closure
    (of the site or of every site) that covers the opening hours."""
    from django.db.models import Q

    from clinic.models import Closure

    hours = {
        weekday: (opens, closes)
        for weekday, opens, closes in site.opening_hours.values_list("weekday", "opens_at", "closes_at")
    }
    closures = list(
        Closure.objects.filter(Q(site=site) | Q(site__isnull=True), chair__isnull=True).values_list(
            "starts_at", "ends_at"
        )
    )

    def desk_open(day: dt.date) -> bool:
        if day.weekday() not in hours:
            return False
        opens, closes = (dt.datetime.combine(day, clock, tzinfo=ZONE) for clock in hours[day.weekday()])
        return not any(begins <= opens and closes <= ends for begins, ends in closures)

    return desk_open


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def simulate(*, policy: str, rate: float, weeks: int, seed: int) -> dict:
    """One policy over `weeks` of the seeded demand, in the current database. Returns the figures."""
    import time_machine
    from django.db import transaction

    from patients.models import Evaluation, Patient
    from scheduling import services
    from scheduling.errors import CourseDoesNotFit, SchedulingError
    from scheduling.models import Appointment, AppointmentStatus, Phase, PlanStatus, TreatmentPlan
    from scheduling.services.courses import ProposedSession
    from scheduling.services.day_plans import day_plans_refresh
    from scheduling.services.day_template import day_template_regenerate

    began = time.perf_counter()
    clinic = build_clinic(policy=policy, weeks=weeks)
    site, desk, protocol = clinic["site"], clinic["desk"], clinic["protocol"]
    setups_per_nurse = HANDS_PER_NURSE
    # Nurse id -> her shift in minutes from opening, when someone is not there all day (the play's
    # `shifts`; None for the one-shift roster, which plays as it always has).
    roster = None
    if any(_minutes_from_opening(b) > 0 or _minutes_from_opening(e) < (CLOSES - OPENS) * 60 for b, e in ROSTER):
        from clinic.models import Role, StaffMember

        ids = StaffMember.objects.filter(sites=site, role=Role.NURSE).order_by("pk").values_list("pk", flat=True)
        roster = {
            nurse: (_minutes_from_opening(begins), _minutes_from_opening(ends))
            for nurse, (begins, ends) in zip(ids, ROSTER, strict=True)
        }
    setup_mode = float(protocol.nurse_setup_minutes)
    discharge_minutes = float(protocol.nurse_discharge_minutes)
    check_offsets = sorted(protocol.nurse_check_offsets_minutes)
    check_minutes = float(protocol.nurse_check_minutes)
    arrivals = demand(seed=seed, rate=rate, weeks=weeks)
    by_day: dict[dt.date, list[Arrival]] = defaultdict(list)
    for arrival in arrivals:
        by_day[arrival.day].append(arrival)
    days = open_days(weeks)
    desk_open = desk_days(site)
    tally = Tally()
    detail_label = f"[{policy} {rate:.2f}/day seed {seed}]"  # SIM_OVERTIME_DETAIL's lines
    fates: dict[int, Fate] = {}
    fate_keys: dict[int, tuple[int, int]] = {}  # appointment -> (patient index, k): its streams
    patient_index: dict[int, int] = {}
    seen_per_patient: Counter = Counter()
    cancel_on: dict[dt.date, list[int]] = defaultdict(list)
    last_seen = [0]
    current = [days[0]]  # the simulated day, for the first refusal

    def see_new(today: dt.date) -> None:
        """Give every session booked since the last look its fate, in a stable order."""
        new = list(
            Appointment.objects.filter(site=site, pk__gt=last_seen[0])
            .order_by("patient_id", "starts_at", "pk")
            .values_list("pk", "patient_id", "starts_at")
        )
        for pk, patient_id, starts_at in new:
            index = patient_index[patient_id]
            drawn = fate(seed=seed, patient=index, k=seen_per_patient[index], setup_mode=setup_mode)
            fate_keys[pk] = (index, seen_per_patient[index])
            seen_per_patient[index] += 1
            fates[pk] = drawn
            if drawn.cancel_lead_days is not None:
                start_day = starts_at.astimezone(ZONE).date()
                # The desk works on open days: a cancellation due on a closed day (weekend, closure)
                # is made on the open day before it (the notice kept), else on the first one that comes.
                due = start_day - dt.timedelta(days=drawn.cancel_lead_days)
                while not desk_open(due) and due > today + dt.timedelta(days=1):
                    due -= dt.timedelta(days=1)
                due = max(today + dt.timedelta(days=1), due)
                # A session booked for today (a re-flow at 07:00) is played today: too late to cancel.
                # One due after the last simulated day is not made (nor counted): moving it into the
                # run would cancel it days early and re-flow a session the run never loses.
                if due <= start_day and due <= days[-1]:
                    cancel_on[due].append(pk)
            last_seen[0] = max(last_seen[0], pk)

    def lost_session(outcome) -> None:
        tally.requested += 1
        if outcome.short_by:
            tally.refused += 1
            tally.reflows_refused += 1
            tally.first_refusal = tally.first_refusal or current[0]

    def book_course(arrival: Arrival, now: dt.datetime, today: dt.date) -> None:
        patient = Patient.objects.create(
            first_name="Sim",
            last_name=f"Patient {arrival.index}",
            date_of_birth=dt.date(1980, 1, 1),
            home_site=site,
            email=f"sim{arrival.index}@example.org",
            reminder_consent=False,
        )
        Evaluation.objects.create(
            patient=patient,
            evaluated_on=today,
            evaluator_name="Dr. Sim",
            evaluator_credentials="MD",
            diagnosis="Treatment-resistant major depressive disorder",
            systolic_bp=120,
            diastolic_bp=78,
            heart_rate=70,
            recorded_by=desk,
        )
        patient_index[patient.pk] = arrival.index
        wanted = next(d for d in (today + dt.timedelta(days=i) for i in range(1, 8)) if d.weekday() < 5)
        plan = services.plan_create(
            patient=patient,
            protocol=protocol,
            prescriber=clinic["prescriber"],
            start_date=wanted,
            actor=desk,
            site=site,
            maintenance_interval_days=arrival.interval_days,
        )
        tally.courses_requested += 1
        tally.requested += 6
        try:
            sessions = services.course_propose(plan=plan, start_date=wanted, now=now).sessions
        except CourseDoesNotFit as exc:
            sessions = None
            # Why the asked-for start failed: the day problems without their dates.
            tally.refusal_reasons.update(
                {day.split(": ", 1)[-1] for day in (exc.details or {}).get("days", [])} or {str(exc)}
            )
            latest = _local(wanted + dt.timedelta(days=START_TOLERANCE_DAYS), 23, 59)
            for alternative in (exc.details or {}).get("alternatives", []):
                first = dt.datetime.fromisoformat(alternative["first_session"].replace("Z", "+00:00"))
                if alternative["site"] == site.pk and first <= latest:
                    sessions = [ProposedSession.from_alternative(s) for s in alternative["sessions"]]
                    break
        if sessions is None:
            tally.courses_refused += 1
            tally.refused += 6
            tally.first_refusal = tally.first_refusal or current[0]
            return  # the patient goes elsewhere; the plan stays an unbooked draft
        services.course_book(plan=plan, actor=desk, now=now, sessions=sessions)

    template_day = days[WARM_UP_WEEKS * 5] if len(days) > WARM_UP_WEEKS * 5 else None
    for today in days:
        current[0] = today
        morning = _local(today, 7)
        if today == template_day and TEMPLATE_AFTER_WARM_UP:
            # The clinic admin regenerates the day template from the page once the warm-up's
            # bookings give the protocol mix: the same service and solver the Celery task runs.
            made = day_template_regenerate(
                site=site, actor=desk, now=_local(today, 6), time_limit_seconds=TEMPLATE_SECONDS
            )
            tally.template = {
                "state": made.state,
                "sessions_per_day": made.sessions_per_day,
                "solver_status": made.solver_status,
                "solve_seconds": made.solve_seconds,
            }
        if DAY_PLANS and tally.template:
            before = time.perf_counter()
            refreshed = day_plans_refresh(site=site, now=_local(today, 6, 30))
            if refreshed.solved:
                tally.plans_solved += len(refreshed.solved)
                tally.plan_seconds.append((time.perf_counter() - before) / len(refreshed.solved))
        with time_machine.travel(morning, tick=False):
            due = [pk for day in sorted(d for d in cancel_on if d <= today) for pk in cancel_on.pop(day)]
            for pk in due:
                appointment = Appointment.objects.get(pk=pk)
                if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED):
                    continue
                tally.cancelled += 1
                outcome = services.appointment_cancel(
                    appointment=appointment,
                    actor=desk,
                    reason="Patient cancelled",
                    now=morning,
                    rebook=appointment.phase == Phase.INDUCTION,
                )
                if appointment.phase == Phase.INDUCTION:
                    lost_session(outcome)
            for arrival in by_day.get(today, []):
                try:
                    book_course(arrival, morning, today)
                except SchedulingError as exc:  # a refusal the desk would see; counted, not hidden
                    tally.courses_refused += 1
                    tally.refused += 6
                    tally.first_refusal = tally.first_refusal or current[0]
                    print(f"refused {arrival.index}: {exc}", file=sys.stderr)
            see_new(today)
        # The day itself.
        start, end = _local(today, 0), _local(today + dt.timedelta(days=1), 0)
        todays = list(
            Appointment.objects.filter(
                site=site, starts_at__gte=start, starts_at__lt=end, status__in=["booked", "confirmed"]
            )
            .order_by("starts_at", "chair_id", "pk")  # simpy breaks ties in this order: keep it fixed
            .values_list("pk", "chair_id", "nurse_id", "starts_at", "ends_at")
        )
        opening = _local(today, OPENS)
        visits, missed, given, keys = [], [], [], []
        for pk, chair_id, nurse_id, starts_at, ends_at in todays:
            if fates[pk].no_show:
                missed.append(pk)
                continue
            given.append((pk, ends_at))
            keys.append(fate_keys[pk])
            visits.append(
                Visit(
                    chair=chair_id,
                    nurse=nurse_id,
                    start=(starts_at - opening).total_seconds() / 60,
                    length=(ends_at - starts_at).total_seconds() / 60,
                    fate=fates[pk],
                )
            )
        day_rules = {
            "nurses": NURSES,
            "setups_per_nurse": setups_per_nurse,
            "check_offsets": check_offsets,
            "check_minutes": check_minutes,
            "discharge_minutes": discharge_minutes,
            "close": (CLOSES - OPENS) * 60,
        }
        played = play_day(visits, **day_rules, shifts=roster)
        if OVERTIME_DETAIL and played.overtime > 0:
            detail = overtime_detail(today, played, day_rules["close"])
            print("\n".join(f"{detail_label} {line}" for line in detail), file=sys.stderr)
        as_assigned = play_day(visits, **day_rules, assigned=True, shifts=roster)
        if REPLAYS:
            replays = [
                play_day(
                    [
                        replace(v, fate=replayed(v.fate, seed=seed, patient=i, k=k, replay=r, setup_mode=setup_mode))
                        for v, (i, k) in zip(visits, keys, strict=True)
                    ],
                    **day_rules,
                    shifts=roster,
                )
                for r in range(REPLAYS)
            ]
            over = [replay.overtime for replay in replays]
            for replay in replays:
                cause = overtime_cause(replay)
                if cause is not None:
                    tally.replay_overtime_by_cause[cause] += replay.overtime / REPLAYS
            tally.replay_overtime += sum(over) / REPLAYS
            tally.replay_overtime_days += sum(o > 0 for o in over) / REPLAYS
        tally.assigned_waits += as_assigned.waits
        tally.assigned_waits_after_arrival += as_assigned.waits_after_arrival
        tally.assigned_overtime += as_assigned.overtime
        tally.assigned_overtime_days += as_assigned.overtime > 0
        tally.booked_by_day[today.isoformat()] = len(todays)
        tally.delivered += len(visits)
        tally.starts_by_hour.update(OPENS + int(v.start // 60) for v in visits)
        tally.delivered_by_day[today.isoformat()] = len(visits)
        tally.waits += played.waits
        tally.lateness += [visit.fate.lateness for visit in visits]
        tally.waits_after_arrival += played.waits_after_arrival
        tally.nurse_minutes += played.nurse_minutes
        tally.chair_minutes += played.chair_minutes
        tally.overtime += played.overtime
        tally.overtime_days += played.overtime > 0
        tally.booked_peaks.append(played.booked_peak)
        tally.setup_peaks.append(played.setup_peak)
        # Evening: the sessions given are recorded completed (what the nurses' day sheet does; the
        # patient's usual weekday, time and chair, which level placement weighs, come from these),
        # no-shows marked (induction re-flowed), finished inductions move to maintenance.
        evening = _local(today, 20)
        for pk, ends_at in given:
            Appointment.objects.filter(pk=pk).update(status="completed", completed_at=ends_at)
        with time_machine.travel(evening, tick=False):
            for pk in missed:
                appointment = Appointment.objects.get(pk=pk)
                tally.no_shows += 1
                outcome = services.appointment_mark_no_show(
                    appointment=appointment, actor=desk, now=evening, rebook=appointment.phase == Phase.INDUCTION
                )
                if appointment.phase == Phase.INDUCTION:
                    lost_session(outcome)
            today_plans = set(
                Appointment.objects.filter(
                    site=site, starts_at__gte=start, starts_at__lt=end, phase=Phase.INDUCTION
                ).values_list("plan_id", flat=True)
            )
            still_to_come = set(
                Appointment.objects.filter(
                    plan_id__in=today_plans,
                    phase=Phase.INDUCTION,
                    status__in=["booked", "confirmed"],
                    starts_at__gt=evening,
                ).values_list("plan_id", flat=True)
            )
            finished = TreatmentPlan.objects.filter(
                pk__in=today_plans - still_to_come, status=PlanStatus.ACTIVE, phase=Phase.INDUCTION
            ).order_by("pk")
            for plan in finished:
                with transaction.atomic():
                    plan = TreatmentPlan.objects.select_for_update().select_related("protocol", "site").get(pk=plan.pk)
                    created = services.plan_enter_maintenance(plan=plan, actor=desk, now=evening)
                    plan.refresh_from_db(fields=["needs_attention", "attention_reason"])
                    unplaced = 0
                    if plan.needs_attention and "could not be placed" in plan.attention_reason:
                        # The layout ends at the first session with no free day: that one and every
                        # one after it at the interval, up to the review date, are not placed.
                        unplaced = maintenance_lost(plan, created)
                    tally.requested += len(created) + unplaced
                    tally.refused += unplaced
                    if unplaced:
                        tally.first_refusal = tally.first_refusal or current[0]
                    tally.maintenance_refused += unplaced
            see_new(today)

    open_minutes = len(days) * (CLOSES - OPENS) * 60
    ceiling = day_ceiling(site=site, protocol=protocol)
    after_warm_up = [n for day, n in sorted(tally.booked_by_day.items())][WARM_UP_WEEKS * 5 :]
    weekday_means = weekday_balance(tally.delivered_by_day)
    if OVERTIME_DETAIL and tally.replay_overtime_by_cause:
        print(f"{detail_label} overtime, each day replayed, by the last patient out:", file=sys.stderr)
        for (start, cause), minutes in sorted(tally.replay_overtime_by_cause.items()):
            print(f"{detail_label}   start {start}, held by {cause}: {minutes:.1f} min", file=sys.stderr)
    return {
        "policy": policy,
        "site_policy": site.placement_policy,
        "rate": rate,
        "weeks": weeks,
        "seed": seed,
        "demand": fingerprint(arrivals),
        "arrivals": len(arrivals),
        "courses_requested": tally.courses_requested,
        "courses_refused": tally.courses_refused,
        "reflows_refused": tally.reflows_refused,
        "maintenance_refused": tally.maintenance_refused,
        "requested": tally.requested,
        "refused": tally.refused,
        "refusal": tally.refused / tally.requested if tally.requested else 0.0,
        "delivered": tally.delivered,
        "cancelled": tally.cancelled,
        "no_shows": tally.no_shows,
        "wait_median": statistics.median(tally.waits) if tally.waits else 0.0,
        "wait_p90": _percentile(tally.waits, 0.9),
        # The floor of "scheduled start -> setup": a setup can begin no earlier than the patient arrives.
        "lateness_p90": _percentile(tally.lateness, 0.9),
        "wait_after_arrival_median": statistics.median(tally.waits_after_arrival) if tally.waits_after_arrival else 0,
        "wait_after_arrival_p90": _percentile(tally.waits_after_arrival, 0.9),
        "booked_peak_max": max(tally.booked_peaks, default=0),
        "booked_peak_mean": statistics.mean(tally.booked_peaks) if tally.booked_peaks else 0.0,
        "setup_peak_max": max(tally.setup_peaks, default=0),
        "setup_peak_mean": statistics.mean(tally.setup_peaks) if tally.setup_peaks else 0.0,
        "nurse_utilisation": tally.nurse_minutes / (len(days) * NURSE_OPEN_MINUTES * setups_per_nurse),
        "chair_utilisation": tally.chair_minutes / (open_minutes * CHAIRS),
        "overtime_minutes": tally.overtime,
        "overtime_days": tally.overtime_days,
        "weekday_means": weekday_means,
        "weekday_ratio": weekday_ratio(weekday_means),
        # The four commonest, ties by text (not by the set order the reasons were counted in).
        "course_misses": dict(sorted(tally.refusal_reasons.items(), key=lambda item: (-item[1], item[0]))[:4]),
        "starts_by_hour": {f"{h:02d}": n for h, n in sorted(tally.starts_by_hour.items())},
        "rules_broken": rules_broken(site=site),
        "delivered_by_day": tally.delivered_by_day,
        "booked_by_day": tally.booked_by_day,
        "assigned_wait_p90": _percentile(tally.assigned_waits, 0.9),
        "assigned_wait_median": statistics.median(tally.assigned_waits) if tally.assigned_waits else 0.0,
        "assigned_wait_after_arrival_p90": _percentile(tally.assigned_waits_after_arrival, 0.9),
        "assigned_wait_after_arrival_median": statistics.median(tally.assigned_waits_after_arrival)
        if tally.assigned_waits_after_arrival
        else 0.0,
        "assigned_overtime_minutes": tally.assigned_overtime,
        "assigned_overtime_days": tally.assigned_overtime_days,
        "replays": REPLAYS,
        "replay_overtime_minutes": tally.replay_overtime if REPLAYS else None,
        "replay_overtime_days": tally.replay_overtime_days if REPLAYS else None,
        "replay_overtime_by_cause": {
            f"{start} {cause}": minutes for (start, cause), minutes in sorted(tally.replay_overtime_by_cause.items())
        }
        if REPLAYS
        else None,
        "template": tally.template,
        "plans_solved": tally.plans_solved,
        "plan_seconds_median": statistics.median(tally.plan_seconds) if tally.plan_seconds else 0.0,
        "ceiling": ceiling,
        "days_at_ceiling": sum(n >= ceiling["sessions"] for n in tally.booked_by_day.values()),
        "booked_after_warm_up": statistics.mean(after_warm_up) if after_warm_up else 0.0,
        "first_refusal": tally.first_refusal.isoformat() if tally.first_refusal else None,
        "seconds": time.perf_counter() - began,
    }


def weekday_balance(delivered_by_day: dict[str, int]) -> dict[str, float]:
    """Mean sessions delivered per weekday after the warm-up."""
    after = FIRST_DAY + dt.timedelta(weeks=WARM_UP_WEEKS)
    per: dict[int, list[int]] = defaultdict(list)
    for day, count in delivered_by_day.items():
        date = dt.date.fromisoformat(day)
        if date >= after:
            per[date.weekday()].append(count)
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    return {names[d]: statistics.mean(counts) for d, counts in sorted(per.items())}


def weekday_ratio(weekday_means: dict[str, float]) -> float | None:
    """Busiest weekday's mean over the quietest's; None when not measured (no day after the
    warm-up, or none delivered a session), infinite when some weekday delivered none."""
    if not weekday_means or not any(weekday_means.values()):
        return None
    quietest = min(weekday_means.values())
    return max(weekday_means.values()) / quietest if quietest else math.inf


HELD = frozenset({"booked", "confirmed", "checked_in", "in_chair", "completed"})


def _most_at_once(spans: list[tuple[dt.datetime, dt.datetime]]) -> tuple[int, dt.datetime | None]:
    """Most spans in progress at one instant, and the first instant it is reached. Back-to-back
    spans are not at once (as booking counts them)."""
    # An end (-1) sorts before a start (+1) at the same instant.
    events = sorted([(begins, 1) for begins, _ in spans] + [(ends, -1) for _, ends in spans])
    peak, current, when = 0, 0, None
    for at, change in events:
        current += change
        if current > peak:
            peak, when = current, at
    return peak, when


def nurse_rules_broken(*, site, rows: list[dict]) -> list[str]:
    """The nurse rules booking enforces, read back from the held sessions: each inside one shift of
    its nurse at the site, at most `max_patients_per_nurse` of one nurse's sessions at once, and at
    most `setups_per_nurse` of her hands-on intervals (setup, checks, discharge: the protocol's
    nurse work, laid out by `NurseWork.hands_on` as booking lays it out) at once."""
    from bisect import bisect_right

    from clinic.models import Shift
    from scheduling.models import Protocol
    from scheduling.selectors import protocol_nurse_work

    problems: list[str] = []
    shifts: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for staff_id, begins, ends in (
        Shift.objects.filter(site=site).order_by("starts_at").values_list("staff_id", "starts_at", "ends_at")
    ):
        shifts[staff_id].append((begins, ends))
    protocols = {p.pk: p for p in Protocol.objects.filter(pk__in={row["plan__protocol_id"] for row in rows} - {None})}
    # (nurse, local day) -> her sessions' spans and their hands-on intervals.
    sessions: dict[tuple[int, dt.date], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    hands: dict[tuple[int, dt.date], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for row in rows:
        if row["status"] not in HELD:
            continue
        start, end, nurse = row["starts_at"], row["ends_at"], row["nurse_id"]
        local = f"{start.astimezone(ZONE):%Y-%m-%d %H:%M}-{end.astimezone(ZONE):%H:%M}"
        if nurse is None:
            problems.append(f"session {row['pk']} ({local}) has no nurse, so no shift covers it")
            continue
        # A nurse's shifts at one site never overlap: the one starting last at or before the session.
        own = shifts[nurse]
        index = bisect_right(own, (start, dt.datetime.max.replace(tzinfo=dt.UTC))) - 1
        if index < 0 or own[index][1] < end:
            problems.append(f"session {row['pk']} ({local}) outside its nurse {nurse}'s shift")
        key = (nurse, start.astimezone(ZONE).date())
        sessions[key].append((start, end))
        work = protocol_nurse_work(protocols.get(row["plan__protocol_id"]))
        hands[key].extend((span.start, span.end) for span in work.hands_on(start, end))
    for by_day, limit, what in (
        (sessions, site.max_patients_per_nurse, "watches {} patients"),
        (hands, site.setups_per_nurse, "has {} setups, checks or discharges"),
    ):
        for (nurse, _day), spans in sorted(by_day.items()):
            at_once, when = _most_at_once(spans)
            if at_once > limit and when is not None:
                problems.append(
                    f"nurse {nurse} {what.format(at_once)} at once at {when.astimezone(ZONE):%Y-%m-%d %H:%M} "
                    f"(at most {limit})"
                )
    return problems


def rules_broken(*, site) -> list[str]:
    """Every protocol, hours, double-booking and nurse rule the booked sessions break, read back
    from the DB."""
    from scheduling.models import Appointment, Phase, TreatmentPlan

    held = HELD
    lost = {"cancelled", "no_show"}
    problems: list[str] = []
    rows = list(
        Appointment.objects.filter(site=site)
        .order_by("starts_at", "pk")
        .values(
            "pk",
            "plan_id",
            "plan__protocol_id",
            "patient_id",
            "chair_id",
            "nurse_id",
            "phase",
            "induction_round",
            "status",
            "starts_at",
            "ends_at",
        )
    )
    plans = {p.pk: p for p in TreatmentPlan.objects.filter(site=site).select_related("protocol")}
    for row in rows:
        start, end = row["starts_at"].astimezone(ZONE), row["ends_at"].astimezone(ZONE)
        if row["status"] in held and (
            start.weekday() >= 5
            or start.time() < dt.time(OPENS)
            or end.time() > dt.time(CLOSES)
            or end.date() != start.date()
        ):
            problems.append(f"session {row['pk']} outside opening hours ({start:%a %H:%M}-{end:%H:%M})")
    for key in ("chair_id", "patient_id"):
        last_end: dict[int, dt.datetime] = {}
        for row in rows:
            if row["status"] not in held:
                continue
            if row[key] in last_end and row["starts_at"] < last_end[row[key]]:
                problems.append(f"{key[:-3]} {row[key]} double-booked at {row['starts_at']:%Y-%m-%d %H:%M}")
            last_end[row[key]] = max(last_end.get(row[key], row["ends_at"]), row["ends_at"])
    problems += nurse_rules_broken(site=site, rows=rows)
    by_plan: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        if row["plan_id"]:
            by_plan[row["plan_id"]].append(row)
    for plan_id, sessions in by_plan.items():
        protocol = plans[plan_id].protocol
        rounds: dict[int, list[dict]] = defaultdict(list)
        for s in sessions:
            if s["phase"] == Phase.INDUCTION and s["status"] in held:
                rounds[s["induction_round"]].append(s)
        for number, induction in rounds.items():
            days = [s["starts_at"].astimezone(ZONE).date() for s in induction]
            if len(set(days)) != len(days):
                problems.append(f"plan {plan_id}: two induction sessions on one day")
            for a, b in itertools.pairwise(induction):
                if b["starts_at"] - a["starts_at"] < dt.timedelta(hours=protocol.min_gap_hours):
                    problems.append(f"plan {plan_id}: induction sessions less than {protocol.min_gap_hours} h apart")
            if protocol.induction_window_days and (days[-1] - days[0]).days >= protocol.induction_window_days:
                problems.append(f"plan {plan_id} round {number}: induction over {protocol.induction_window_days} days")
            if len(induction) > (protocol.induction_sessions or len(induction)):
                problems.append(f"plan {plan_id} round {number}: more induction sessions than the protocol")
        plan = plans[plan_id]
        previous, lost_between = None, False
        for s in sessions:
            if s["status"] in lost:
                lost_between = previous is not None
                continue
            day = s["starts_at"].astimezone(ZONE).date()
            if s["phase"] == Phase.MAINTENANCE and previous is not None:
                gap = (day - previous).days
                if gap < protocol.maintenance_min_days or (not lost_between and gap > protocol.maintenance_max_days):
                    problems.append(
                        f"plan {plan_id}: maintenance {gap} days after the previous session "
                        f"(interval {plan.maintenance_interval_days})"
                    )
            previous, lost_between = day, False
    return problems


# --- the bench: databases, runs, table, targets ---------------------------------------------------


# BENCH_SIM_DB: the database name prefix, so parallel benches on one server do not collide.
PREFIX = os.environ.get("BENCH_SIM_DB", "clinic_sim_bench")
TEMPLATE = f"{PREFIX}_template"
RUN_DB = f"{PREFIX}_run"

CHILD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_SECRET_KEY": "bench-only-secret",
    "DJANGO_DEBUG": "false",
    "DJANGO_LOG_LEVEL": "ERROR",
    "CELERY_TASK_ALWAYS_EAGER": "true",
}


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _child(args: list[str], database: str) -> dict:
    import booking_scale

    env = {**os.environ, **CHILD_ENV, "DATABASE_URL": f"{booking_scale.PG}/{database}"}
    done = subprocess.run(
        [sys.executable, __file__, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def migrations_state() -> str:
    """A name for the migrations on disk (their names and contents), so a template from other
    code, or from a migration edited before it landed, is rebuilt."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/0*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def ensure_template() -> None:
    import booking_scale

    name = f"{TEMPLATE}_{migrations_state()}"
    conn = booking_scale._admin()
    with conn.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{TEMPLATE}_%"])
        stale = [row[0] for row in cursor.fetchall() if row[0] != name]
    conn.close()
    for old in stale:  # templates of earlier migrations
        booking_scale._drop(old)
    if booking_scale._exists(name):
        return
    booking_scale._create(name)
    try:
        _child(["--migrate"], name)
    except BaseException:
        booking_scale._drop(name)
        raise


def run(policy: str, rate: float, weeks: int, seed: int) -> dict:
    """One policy on a fresh copy of the migrated template, in a process of its own."""
    import booking_scale

    database = f"{RUN_DB}_{policy.replace('-', '_')}"
    booking_scale._drop(database)
    booking_scale._create(database, template=f"{TEMPLATE}_{migrations_state()}")
    conn = booking_scale._admin()
    with conn.cursor() as cursor:
        # A throw-away database: commits need not wait for the disk (the statements are the same).
        cursor.execute(f'ALTER DATABASE "{database}" SET synchronous_commit = off')
    conn.close()
    try:
        args = ["--simulate", policy, "--rate", str(rate), "--weeks", str(weeks), "--seed", str(seed)]
        result = _child(args, database)
    finally:
        booking_scale._drop(database)
    if os.environ.get("SIM_DUMP"):
        Path(os.environ["SIM_DUMP"]).mkdir(parents=True, exist_ok=True)
        (Path(os.environ["SIM_DUMP"]) / f"{policy}-{rate}-{weeks}.json").write_text(json.dumps(result, default=str))
    print(
        f"  {policy:>8} at {rate:.2f}/day: {result['delivered']} delivered, refusal {result['refusal']:.1%}, "
        f"{result['seconds']:.0f} s",
        flush=True,
    )
    return result


def run_both(rate: float, weeks: int, seed: int, jobs: int) -> tuple[dict, dict]:
    """`earliest` and `level` on the same seeded demand, each on its own fresh database."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        earliest = pool.submit(run, "earliest", rate, weeks, seed)
        level = pool.submit(run, "level", rate, weeks, seed)
        return earliest.result(), level.result()


ROWS = [
    ("arrivals (new inductions)", "arrivals", "{:d}"),
    ("session requests", "requested", "{:d}"),
    ("requests not placed", "refused", "{:d}"),
    ("refusal rate", "refusal", "{:.1%}"),
    ("  courses refused (6 requests each)", "courses_refused", "{:d}"),
    ("  re-flows after a lost session refused", "reflows_refused", "{:d}"),
    ("  maintenance sessions not placed", "maintenance_refused", "{:d}"),
    ("sessions delivered", "delivered", "{:d}"),
    ("cancelled / no-shows", None, None),
    ("wait sched. start->setup, median (min)", "wait_median", "{:.1f}"),
    ("wait sched. start->setup, p90 (min)", "wait_p90", "{:.1f}"),
    ("  its floor: the patients' own lateness, p90 (min)", "lateness_p90", "{:.1f}"),
    ("wait arrival->setup, median (min)", "wait_after_arrival_median", "{:.1f}"),
    ("wait arrival->setup, p90 (min)", "wait_after_arrival_p90", "{:.1f}"),
    ("booked nurse does the work: wait sched. start->setup, p90", "assigned_wait_p90", "{:.1f}"),
    ("booked nurse does the work: wait arrival->setup, p90", "assigned_wait_after_arrival_p90", "{:.1f}"),
    ("booked nurse does the work: overtime (min, total)", "assigned_overtime_minutes", "{:.0f}"),
    ("booked starts in one 15 min, max", "booked_peak_max", "{:d}"),
    ("booked starts in one 15 min, daily mean", "booked_peak_mean", "{:.1f}"),
    ("patients needing setup at once, max", "setup_peak_max", "{:d}"),
    ("patients needing setup at once, daily mean", "setup_peak_mean", "{:.1f}"),
    ("nurse utilisation (hands-on)", "nurse_utilisation", "{:.1%}"),
    ("chair utilisation", "chair_utilisation", "{:.1%}"),
    ("overtime after 18:00 (min, total)", "overtime_minutes", "{:.0f}"),
    ("days running over", "overtime_days", "{:d}"),
    ("overtime, each day replayed (mean, min, total)", "replay_overtime_minutes", "{:.1f}"),
    ("days running over, each day replayed (mean)", "replay_overtime_days", "{:.1f}"),
    ("busiest/quietest weekday (after warm-up)", "weekday_ratio", "{:.2f}"),
    ("day ceiling under booking's rules (CP-SAT)", None, None),
    ("day template after warm-up (level reads it)", None, None),
    ("days solved again around their bookings (level reads them)", "plans_solved", "{:d}"),
    ("  seconds per day solved, median of the daily runs", "plan_seconds_median", "{:.2f}"),
    ("sessions booked a day after warm-up, mean", "booked_after_warm_up", "{:.1f}"),
    ("open days booked to the ceiling", "days_at_ceiling", "{:d}"),
    ("weekday means Mon..Fri", None, None),
    ("delivered starts by hour 08..17", None, None),
    ("protocol rules broken", None, None),
    ("run time (s)", "seconds", "{:.0f}"),
]


def table(title: str, earliest: dict, level: dict) -> str:
    lines = [f"\n{title}", f"| measure | {earliest['policy']} | {level['policy']} |", "|---|---:|---:|"]
    for label, key, form in ROWS:
        cells = []
        for result in (earliest, level):
            if label.startswith("cancelled"):
                cells.append(f"{result['cancelled']} / {result['no_shows']}")
            elif label.startswith("weekday means"):
                cells.append(" ".join(f"{v:.1f}" for v in result["weekday_means"].values()))
            elif label.startswith("delivered starts by hour"):
                cells.append(" ".join(str(result["starts_by_hour"].get(f"{h:02d}", 0)) for h in range(OPENS, CLOSES)))
            elif label.startswith("day ceiling"):
                cells.append(f"{result['ceiling']['sessions']} ({result['ceiling']['status']})")
            elif label.startswith("day template"):
                made = result["template"]
                cells.append(f"{made['sessions_per_day']} a day ({made['solver_status']})" if made else "none")
            elif label.startswith("protocol rules"):
                cells.append(str(len(result["rules_broken"])))
            elif result[key] is None:
                cells.append("not measured")
            else:
                cells.append(form.format(result[key]))
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    for result in (earliest, level):
        misses = "; ".join(f"{reason} ({count})" for reason, count in result["course_misses"].items())
        lines.append(f"{result['policy']}: why asked-for course starts failed: {misses or 'none failed'}")
    return "\n".join(lines)


# What the seeds table sums over the seeds (None in a sum when a run did not measure it).
SEED_FIGURES = ("delivered", "refused", "overtime_minutes", "replay_overtime_minutes", "replay_overtime_days")


def seeds_table(pairs: dict[int, tuple[dict, dict]]) -> str:
    """The base demand at several seeds (`--also-seeds`), both policies side by side, and the sums
    over the seeds: what a policy does across demands, where one seed's overtime is a handful of days."""
    lines = [
        "\nBase demand at each seed (overtime: one draw / each day replayed, min; days over: replayed)",
        "| seed | earliest: delivered, not placed, overtime, days over | level: delivered, not placed, overtime, "
        "days over | level overtime lower, replayed |",
        "|---:|---|---|---:|",
    ]

    def summed(results: list[dict]) -> dict:
        """The results' figures added up, as one result the cells and `judged_overtime` read."""
        total = {
            key: None if any(r[key] is None for r in results) else sum(r[key] for r in results) for key in SEED_FIGURES
        }
        return total | {"replays": min(r.get("replays", 0) for r in results)}

    def cell(result: dict) -> str:
        figures = f"{result['delivered']}, {result['refused']}, {result['overtime_minutes']:.1f}"
        if result["replay_overtime_minutes"] is None:
            return f"{figures} / not measured, -"
        return f"{figures} / {result['replay_overtime_minutes']:.1f}, {result['replay_overtime_days']:.1f}"

    rows = [(str(seed), pair) for seed, pair in sorted(pairs.items())]
    rows.append(("all", (summed([p[0] for p in pairs.values()]), summed([p[1] for p in pairs.values()]))))
    for name, (earliest, level) in rows:
        judged = judged_overtime(earliest)
        lower = f"{1 - judged_overtime(level) / judged:.0%}" if judged else "-"
        lines.append(f"| {name} | {cell(earliest)} | {cell(level)} | {lower} |")
    return "\n".join(lines)


def room_under_ceiling(result: dict) -> int:
    """Sessions the result's days could still have taken under the day ceiling, from its first
    refused request on: more than any policy could add there (it ignores every course rule)."""
    first, ceiling = result["first_refusal"], result["ceiling"]["sessions"]
    if not first:
        return 0
    return sum(max(0, ceiling - booked) for day, booked in result["booked_by_day"].items() if day >= first)


def judged_overtime(result: dict) -> float:
    """The overtime a target is judged on: the mean over each day's replays, where the run replayed its
    days (one draw of lateness is a few very late patients' luck), else the one draw."""
    return result["replay_overtime_minutes"] if result.get("replays") else result["overtime_minutes"]


def targets(
    same: tuple[dict, dict],
    raised: tuple[dict, dict] | None,
    reference: tuple[dict, dict] | None = None,
    seeds: dict[int, tuple[dict, dict]] | None = None,
) -> list[str]:
    """The issue's targets missed, with why. `reference`: the reference run and the base run of
    `earliest` it is read against (they must have seen the same demand too). `seeds`: the base demand
    at other seeds (`--also-seeds`): shown as evidence, not judged, but each pair must have seen the
    same demand."""
    earliest, level = same
    missed = []
    others = [(f"seed {seed}", pair) for seed, pair in sorted((seeds or {}).items())]
    for title, pair in (("base", same), ("raised", raised), ("reference", reference), *others):
        if pair is not None and pair[0]["demand"] != pair[1]["demand"]:
            missed.append(
                f"{title} demand: {pair[0]['policy']} and {pair[1]['policy']} did not see the same demand "
                f"({pair[0]['demand']} against {pair[1]['demand']})"
            )
    if judged_overtime(earliest) <= 0:
        missed.append("earliest never runs over at the base demand: the wait/overtime targets are not measurable")
    else:
        lower = 1 - level["wait_p90"] / earliest["wait_p90"] if earliest["wait_p90"] else 0.0
        if lower < TARGETS["p90_wait_lower"]:
            floor = 1 - level["lateness_p90"] / earliest["wait_p90"] if earliest["wait_p90"] else 0.0
            missed.append(
                f"p90 wait {lower:.0%} lower (target {TARGETS['p90_wait_lower']:.0%}); the patients' own lateness "
                f"has a p90 of {level['lateness_p90']:.1f} min, so no policy could be more than {floor:.0%} lower"
            )
        lower = 1 - judged_overtime(level) / judged_overtime(earliest)
        if lower < TARGETS["overtime_lower"]:
            replays = f", mean of {earliest['replays']} replays of each day" if earliest.get("replays") else ""
            missed.append(f"overtime {lower:.0%} lower{replays} (target {TARGETS['overtime_lower']:.0%})")
    balance = weekday_ratio(level["weekday_means"])
    if balance is None:
        missed.append(
            f"no session delivered on a day after the {WARM_UP_WEEKS}-week warm-up: the weekday target "
            "is not measurable (run more weeks)"
        )
    elif balance > TARGETS["weekday_ratio"]:
        missed.append(f"busiest/quietest weekday {balance:.2f} (target <= {TARGETS['weekday_ratio']})")
    if raised is not None:
        r_earliest, r_level = raised
        if r_earliest["refusal"] <= TARGETS["raised_refusal"]:
            missed.append(f"the raised demand never made earliest refuse over {TARGETS['raised_refusal']:.0%}")
        more = r_level["delivered"] / r_earliest["delivered"] - 1 if r_earliest["delivered"] else 0.0
        if more < TARGETS["raised_more_sessions"]:
            room = room_under_ceiling(r_earliest)
            missed.append(
                f"raised demand: level delivers {more:+.1%} sessions (target +{TARGETS['raised_more_sessions']:.0%}); "
                f"from earliest's first refusal on, its days had room under the ceiling of "
                f"{r_earliest['ceiling']['sessions']} a day for {room} more sessions, at most "
                f"{room / r_earliest['delivered']:+.1%} for any policy"
            )
    for result in (*same, *(raised or ())):
        if result["rules_broken"]:
            missed.append(
                f"{len(result['rules_broken'])} rules broken under {result['policy']} at {result['rate']:.2f}/day: "
                + "; ".join(result["rules_broken"][:3])
            )
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--rate", type=float, default=BASE_RATE, help="new inductions per open weekday")
    parser.add_argument("--raised-rate", type=float, help="the raised demand's rate (no search)")
    parser.add_argument("--raised-from", type=float, default=RAISED_FROM, help="where the raised-demand search starts")
    parser.add_argument("--max-steps", type=int, default=4, help="raised-demand search: at most this many rates")
    parser.add_argument("--jobs", type=int, default=2, help="simulations at once (they mostly wait on PostgreSQL)")
    parser.add_argument(
        "--reference", action="store_true", help=f"also run '{UNLIMITED}' (main before issue 17) at the base demand"
    )
    parser.add_argument(
        "--also-seeds",
        type=lambda text: [int(seed) for seed in text.split(",") if seed],
        default=[],
        help="the base demand also at these seeds (e.g. 18,19,20,21), a table side by side; the targets stay judged at --seed",
    )
    parser.add_argument("--quick", action="store_true", help="8 weeks, at most 2 search steps")
    parser.add_argument("--migrate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--simulate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.migrate:
        _setup_django()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(json.dumps({"migrated": True}))
        return 0
    if args.simulate:
        _setup_django()
        print(json.dumps(simulate(policy=args.simulate, rate=args.rate, weeks=args.weeks, seed=args.seed), default=str))
        return 0
    if args.quick:
        args.weeks, args.max_steps = min(args.weeks, 8), min(args.max_steps, 2)

    began = time.perf_counter()
    ensure_template()
    print(
        f"Same demand: {args.rate:.2f} new inductions per open weekday, {args.weeks} weeks, seed {args.seed}; "
        f"nurses {ROSTER_NAME}: " + ", ".join(f"{b:%H:%M}-{e:%H:%M}" for b, e in ROSTER)
    )
    same = run_both(args.rate, args.weeks, args.seed, args.jobs)
    print(table(f"Same demand ({args.rate:.2f}/day)", *same))
    seeds = {}
    for seed in args.also_seeds:
        if seed != args.seed:
            print(f"\nSame demand at seed {seed}")
            seeds[seed] = run_both(args.rate, args.weeks, seed, args.jobs)
    if seeds:
        print(seeds_table({args.seed: same, **seeds}))
    reference = None
    if args.reference:
        reference = (run(UNLIMITED, args.rate, args.weeks, args.seed), same[0])
        print(table(f"Reference ({args.rate:.2f}/day): main before issue 17 against earliest", *reference))
    if args.raised_rate is not None:
        rate, raised = args.raised_rate, run_both(args.raised_rate, args.weeks, args.seed, args.jobs)
    else:
        print(
            f"\nRaised demand: from {args.raised_from:.2f}/day until earliest refuses over {TARGETS['raised_refusal']:.0%}"
        )
        rate = args.raised_from
        for step in range(args.max_steps):
            rate = round(args.raised_from + step * RATE_STEP, 2)
            raised = run_both(rate, args.weeks, args.seed, args.jobs)
            if raised[0]["refusal"] > TARGETS["raised_refusal"]:
                break
    print(table(f"Raised demand ({rate:.2f}/day)", *raised))
    missed = targets(same, raised, reference, seeds)
    print(
        f"\nmeasured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC in {time.perf_counter() - began:.0f} s, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    if missed:
        print("\nMISSED: " + "; ".join(missed))
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
