"""Benchmark: solving a site's day template (scheduling/engine/day_template.py, OR-Tools CP-SAT).

The issue's site: 12 chairs, 4 nurses on shift 07:30-18:30, open 08:00-18:00, one setup per
nurse at a time. Three protocol mixes (the standard 120-minute IV alone; with a 90-minute
protocol; three protocols), on the site's 15-minute booking grid and on a 5-minute grid, with
the default 10-second limit and 2 workers. Plain Python: no database.

Prints per case the solver status, solve time, sessions a day and each chair's first start.
Exits non-zero when a solve takes more than 10 s or finds no template.

Run: .venv/bin/python bench/day_template.py
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduling.engine.day_template import (
    DEFAULT_TIME_LIMIT_SECONDS,
    ChairSpec,
    NurseShift,
    ProtocolSpec,
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
    for failure in failures:
        print("MISSED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
