"""Benchmark: solving a site's day template (scheduling/engine/day_template.py, OR-Tools CP-SAT).

The issue's site: 12 chairs, 4 nurses on shift 07:30-18:30, open 08:00-18:00, one setup per
nurse at a time. Four protocol mixes (the standard 120-minute IV alone; with a 90-minute
protocol; two protocols of the standard's one shape, which the solver takes as one; three
protocols), on the site's 15-minute booking grid and on a 5-minute grid, with
the default 10-second limit and 2 workers. Plain Python: no database.

Prints per case the solver status, solve time, sessions a day and each chair's first start.
Exits non-zero when a solve takes more than 10 s or finds no template.

Then nurses on different shifts (rosters a clinic runs: early and late pairs, a morning and an
afternoon nurse), and more nurses than chairs, where the day cannot be split into per-nurse
chairs. Side by side on the same
roster: the pooled model (nurses on shift counted minute by minute, what such a site got before)
and the per-nurse model that now solves it. For each, its starts are booked in time order as
booking would hold them: the pooled template's each with the least-loaded nurse who can take
it (`Availability._pick_nurse`'s rule: shift covers the session, under the ratio, hands free),
the per-nurse template's each with the nurse it names. Exits non-zero when a per-nurse start
cannot be booked with its nurse, or a solve takes more than 10 s.

Run: .venv/bin/python bench/day_template.py
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduling.engine.day_template import (
    DEFAULT_TIME_LIMIT_SECONDS,
    DEFAULT_WORKERS,
    ChairSpec,
    DayRules,
    NurseShift,
    ProtocolSpec,
    _solve,  # the pooled model, for the comparison
    solve_day_template,
)

LIMIT_SECONDS = 10.0
CHAIRS = [ChairSpec(id=number, routes=frozenset({"iv", "intranasal"})) for number in range(1, 13)]
NURSES = [NurseShift(dt.time(7, 30), dt.time(18, 30))] * 4
OPENING = (dt.time(8), dt.time(18))
STANDARD = ProtocolSpec(id=1, route="iv", chair_minutes=120, setup_minutes=20, weight=1.0)
MIXES = {
    "standard IV 120 min": [STANDARD],
    "IV 120 + IV 90 (3:1)": [
        ProtocolSpec(id=1, route="iv", chair_minutes=120, setup_minutes=20, weight=3.0),
        ProtocolSpec(id=2, route="iv", chair_minutes=90, setup_minutes=20, weight=1.0),
    ],
    # An induction and a maintenance protocol of one session: solved as one (`protocol_shape`), dealt back 1 : 1.
    "IV 120 twice, one shape (1:1)": [
        STANDARD,
        ProtocolSpec(id=2, route="iv", chair_minutes=120, setup_minutes=20, weight=1.0),
    ],
    "IV 120 + 150 + nasal 120": [
        ProtocolSpec(id=1, route="iv", chair_minutes=120, setup_minutes=20, weight=4.0),
        ProtocolSpec(id=2, route="iv", chair_minutes=150, setup_minutes=25, weight=2.0),
        ProtocolSpec(id=3, route="intranasal", chair_minutes=120, setup_minutes=15, weight=1.0),
    ],
}


def main() -> int:
    failures = []
    print(
        f"12 chairs, 4 nurses 07:30-18:30, open 08:00-18:00, 1 setup per nurse; limit {DEFAULT_TIME_LIMIT_SECONDS:.0f} s"
    )
    print(f"{'mix':<28} {'grid':>5} {'status':>10} {'seconds':>8} {'sessions/day':>13} {'first starts'}")
    for name, protocols in MIXES.items():
        for step in (15, 5):
            outcome = solve_day_template(
                chairs=CHAIRS, opening=OPENING, nurse_shifts=NURSES, protocols=protocols, step_minutes=step
            )
            template = outcome.template
            firsts = sorted(rows[0][0].strftime("%H:%M") for rows in template.starts.values()) if template else []
            sessions = template.sessions_per_day if template else "none"
            print(
                f"{name:<28} {step:>4}' {outcome.status:>10} {outcome.solve_seconds:>8.2f} {sessions:>13} "
                f"{' '.join(firsts)}"
            )
            if template is None:
                failures.append(f"{name}, {step}-minute grid: no template ({outcome.status})")
            if outcome.solve_seconds > LIMIT_SECONDS:
                failures.append(f"{name}, {step}-minute grid: {outcome.solve_seconds:.1f} s > {LIMIT_SECONDS:.0f} s")
    failures += rosters()
    for failure in failures:
        print("MISSED:", failure)
    return 1 if failures else 0


# The standard protocol with the nurse's whole hands-on work (Protocol's defaults).
WORKED = ProtocolSpec(
    id=1,
    route="iv",
    chair_minutes=120,
    setup_minutes=20,
    weight=1.0,
    check_offsets=(40,),
    check_minutes=5,
    discharge_minutes=10,
)
ROSTERS = {
    "2 x 07:30-16:00, 2 x 09:30-18:00": [("07:30", "16:00")] * 2 + [("09:30", "18:00")] * 2,
    "2 x 08:00-16:00, 2 x 10:00-18:00": [("08:00", "16:00")] * 2 + [("10:00", "18:00")] * 2,
    "08-13, 2 x 08-18, 13-18": [("08:00", "13:00"), ("08:00", "18:00"), ("08:00", "18:00"), ("13:00", "18:00")],
    # More nurses than chairs: no lanes either, and the chairs bind.
    "14 x 08:00-18:00": [("08:00", "18:00")] * 14,
}


def _minute(clock: dt.time) -> int:
    return clock.hour * 60 + clock.minute


def _book(sessions: list[tuple[int, int | None]], shifts: list[NurseShift], protocol: ProtocolSpec) -> tuple[int, int]:
    """Book (start minute, named nurse or None) in time order as booking holds one nurse: her shift
    covers the session, at most 3 patients watched, her hands-on work one piece at a time. A
    session without a named nurse takes the least-loaded one who can. Returns (booked, refused)."""
    watched: list[list[tuple[int, int]]] = [[] for _ in shifts]
    hands: list[list[tuple[int, int]]] = [[] for _ in shifts]
    booked = refused = 0
    for start, named in sorted(sessions, key=lambda s: s[0]):
        end = start + protocol.chair_minutes
        pieces = [(start + offset, start + offset + length) for offset, length in protocol.hands_on()]

        def load(nurse: int, start: int = start, end: int = end) -> int:
            return max(sum(a <= minute < b for a, b in watched[nurse]) for minute in range(start, end))

        def can(nurse: int, start: int = start, end: int = end, pieces: list = pieces) -> bool:
            shift = shifts[nurse]
            return (
                _minute(shift.starts) <= start
                and end <= _minute(shift.ends)
                and load(nurse) < 3
                and not any(a < y and x < b for a, b in pieces for x, y in hands[nurse])
            )

        options = [named] if named is not None else sorted(range(len(shifts)), key=lambda n: (load(n), n))
        nurse = next((n for n in options if can(n)), None)
        if nurse is None:
            refused += 1
            continue
        watched[nurse].append((start, end))
        hands[nurse].extend(pieces)
        booked += 1
    return booked, refused


def rosters() -> list[str]:
    failures = []
    chairs = [ChairSpec(id=number, routes=frozenset({"iv"})) for number in range(1, 13)]
    print("\nNurses on different shifts: 12 chairs, open 08:00-18:00, the standard IV protocol with setup,")
    print("check and discharge; each template's starts booked in time order (see the docstring)")
    print(f"{'roster':<34} {'model':<10} {'status':>9} {'seconds':>8} {'offered':>8} {'booked':>7} {'refused':>8}")
    for name, hours in ROSTERS.items():
        shifts = [NurseShift(dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, b in sorted(hours)]
        pooled = _solve(
            chairs=chairs,
            nurse_shifts=shifts,
            rules=DayRules(opening=OPENING, protocols=[WORKED], setups_per_nurse=1, max_patients_per_nurse=3),
            time_limit_seconds=DEFAULT_TIME_LIMIT_SECONDS,
            workers=DEFAULT_WORKERS,
        )
        per_nurse = solve_day_template(chairs=chairs, opening=OPENING, nurse_shifts=shifts, protocols=[WORKED])
        for model, outcome, named in (("pooled", pooled, False), ("per nurse", per_nurse, True)):
            template = outcome.template
            sessions = [
                (_minute(clock), template.shifts.get((chair, clock)) if named else None)
                for chair, rows in (template.starts.items() if template else ())
                for clock, _ in rows
            ]
            booked, refused = _book(sessions, shifts, WORKED)
            print(
                f"{name:<34} {model:<10} {outcome.status:>9} {outcome.solve_seconds:>8.2f} {len(sessions):>8} "
                f"{booked:>7} {refused:>8}"
            )
            if outcome.solve_seconds > LIMIT_SECONDS:
                failures.append(f"{name}, {model}: {outcome.solve_seconds:.1f} s > {LIMIT_SECONDS:.0f} s")
            if named and (template is None or refused):
                failures.append(f"{name}: {refused} per-nurse starts refused with their own nurse")
    return failures


if __name__ == "__main__":
    sys.exit(main())
