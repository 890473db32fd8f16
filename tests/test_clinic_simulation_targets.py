"""The clinic simulation bench's targets (bench/clinic_simulation.py `targets`) on made-up figures:
a target that was not measured, or measured on different demand, is missed, not met."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parent.parent / "bench" / "clinic_simulation.py"
_spec = importlib.util.spec_from_file_location("clinic_simulation_targets", _PATH)
sim = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("clinic_simulation_targets", sim)
_spec.loader.exec_module(sim)


def _result(policy: str, **overrides) -> dict:
    """Figures of one run where every target is met (level against earliest)."""
    base = {
        "policy": policy,
        "rate": 4.0,
        "demand": "abc",
        "overtime_minutes": 100.0 if policy == "earliest" else 10.0,
        "replays": 0,
        "replay_overtime_minutes": 0.0,
        "wait_p90": 20.0 if policy == "earliest" else 5.0,
        "lateness_p90": 4.0,
        "weekday_means": {"Mon": 30.0, "Tue": 30.0, "Wed": 30.0, "Thu": 30.0, "Fri": 30.0},
        "weekday_ratio": 1.0,
        "refusal": 0.10 if policy == "earliest" else 0.02,
        "delivered": 1000 if policy == "earliest" else 1200,
        "rules_broken": [],
        "first_refusal": None,
        "ceiling": {"sessions": 44, "status": "OPTIMAL"},
        "booked_by_day": {},
    }
    return base | overrides


def _pairs(**overrides) -> tuple[tuple[dict, dict], tuple[dict, dict]]:
    same = (_result("earliest", **overrides), _result("level", **overrides))
    raised = (_result("earliest", rate=5.0, **overrides), _result("level", rate=5.0, **overrides))
    return same, raised


def test_good_figures_meet_every_target():
    assert sim.targets(*_pairs()) == []


def test_the_weekday_target_is_missed_when_no_day_after_the_warm_up_was_played():
    # `--weeks 4` or fewer: no day after the warm-up, no weekday mean.
    missed = sim.targets(*_pairs(weekday_means={}, weekday_ratio=None))

    assert any("weekday target is not measurable" in m for m in missed), missed


def test_the_weekday_target_is_missed_when_a_weekday_delivered_nothing():
    means = {"Mon": 30.0, "Tue": 0.0, "Wed": 30.0, "Thu": 30.0, "Fri": 30.0}

    missed = sim.targets(*_pairs(weekday_means=means))

    assert sim.weekday_ratio(means) == float("inf")
    assert any("busiest/quietest weekday inf" in m for m in missed), missed


def test_the_raised_demand_pair_must_have_seen_the_same_demand():
    same, _ = _pairs()
    raised = (_result("earliest", rate=5.0, demand="one"), _result("level", rate=5.0, demand="other"))

    missed = sim.targets(same, raised)

    assert any(m.startswith("raised demand: earliest and level did not see the same demand") for m in missed), missed


def test_the_reference_run_must_have_seen_the_base_demand():
    same, raised = _pairs()
    reference = (_result(sim.UNLIMITED, demand="other"), same[0])

    missed = sim.targets(same, raised, reference)

    assert any(m.startswith("reference demand:") and "same demand" in m for m in missed), missed


def test_the_overtime_target_is_judged_on_the_mean_of_the_replays_when_the_days_were_replayed():
    """One draw: earliest ran over 4 minutes and level 22 (missed). Each day replayed 40 times:
    earliest 60 minutes on average and level 30 (met), and the other way round (missed)."""

    def pair(earliest_mean: float, level_mean: float) -> tuple[dict, dict]:
        return (
            _result("earliest", overtime_minutes=4.0, replays=40, replay_overtime_minutes=earliest_mean),
            _result("level", overtime_minutes=22.0, replays=40, replay_overtime_minutes=level_mean),
        )

    _, raised = _pairs()
    assert sim.targets(pair(60.0, 30.0), raised) == []
    missed = sim.targets(pair(30.0, 60.0), raised)
    assert missed == ["overtime -100% lower, mean of 40 replays of each day (target 25%)"], missed
    one_draw = (_result("earliest", overtime_minutes=4.0), _result("level", overtime_minutes=22.0))
    assert sim.targets(one_draw, raised) == ["overtime -450% lower (target 25%)"]


def test_the_overtime_target_is_not_measurable_when_earliest_never_runs_over_in_any_replay():
    same = (
        _result("earliest", overtime_minutes=5.0, replays=40, replay_overtime_minutes=0.0),
        _result("level", replays=40, replay_overtime_minutes=0.0),
    )
    missed = sim.targets(same, _pairs()[1])
    assert any("earliest never runs over" in m for m in missed), missed


def test_a_pair_at_another_seed_must_have_seen_the_same_demand_but_its_figures_are_not_judged():
    same, raised = _pairs()
    # Level runs over more than earliest at seed 18: evidence in the table, not a missed target.
    worse = (_result("earliest", overtime_minutes=10.0), _result("level", overtime_minutes=50.0))
    assert sim.targets(same, raised, seeds={18: worse}) == []

    other = (_result("earliest", demand="abc"), _result("level", demand="xyz"))
    missed = sim.targets(same, raised, seeds={18: worse, 19: other})
    assert missed == ["seed 19 demand: earliest and level did not see the same demand (abc against xyz)"], missed


def test_the_seeds_table_gives_each_seed_and_the_sums_with_levels_overtime_lower_on_the_replays():
    def pair(seed_overtime: tuple[float, float], replayed: tuple[float, float]) -> tuple[dict, dict]:
        return tuple(
            _result(
                policy,
                delivered=100,
                refused=3,
                overtime_minutes=once,
                replays=40,
                replay_overtime_minutes=mean,
                replay_overtime_days=1.5,
            )
            for policy, once, mean in zip(("earliest", "level"), seed_overtime, replayed, strict=True)
        )

    table = sim.seeds_table({18: pair((4.0, 20.0), (40.0, 20.0)), 17: pair((30.0, 0.0), (20.0, 20.0))})
    rows = [line for line in table.splitlines() if line.startswith("| 1") or line.startswith("| all")]

    assert rows == [
        "| 17 | 100, 3, 30.0 / 20.0, 1.5 | 100, 3, 0.0 / 20.0, 1.5 | 0% |",
        "| 18 | 100, 3, 4.0 / 40.0, 1.5 | 100, 3, 20.0 / 20.0, 1.5 | 50% |",
        "| all | 200, 6, 34.0 / 60.0, 3.0 | 200, 6, 20.0 / 40.0, 3.0 | 33% |",
    ]
