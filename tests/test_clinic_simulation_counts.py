"""What bench/clinic_simulation.py counts, each shown on a tiny run: cancellations due on a closed
day are still made, one due after the run is not, and every maintenance session lost after a gap
counts as not placed.

Each simulation here is one patient through the real services on the test database, inside a
transaction that is rolled back; the demand and each session's fate are replaced by fixed ones
so the scenario does not depend on the seed."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pytest
from django.db import transaction

from scheduling.models import Appointment

_PATH = Path(__file__).resolve().parent.parent / "bench" / "clinic_simulation.py"
_spec = importlib.util.spec_from_file_location("clinic_simulation_counts", _PATH)
sim = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("clinic_simulation_counts", sim)
_spec.loader.exec_module(sim)

BENIGN = sim.Fate(cancel_lead_days=None, no_show=False, lateness=0.0, setup=20.0)


class _RolledBack(Exception):
    pass


def _simulate(monkeypatch, *, arrival_day: dt.date, weeks: int, fates: dict[int, sim.Fate], extra=None):
    """One patient arriving on `arrival_day`; their k-th session gets fates[k] (else a benign one).
    Returns the figures and the patient's appointments (status, local start), read before rollback."""
    monkeypatch.setattr(sim, "demand", lambda *, seed, rate, weeks: [sim.Arrival(0, arrival_day, 14)])
    monkeypatch.setattr(sim, "fate", lambda *, seed, patient, k, setup_mode: fates.get(k, BENIGN))
    if extra is not None:
        build = sim.build_clinic

        def build_with_extra(**kwargs):
            clinic = build(**kwargs)
            extra(clinic)
            return clinic

        monkeypatch.setattr(sim, "build_clinic", build_with_extra)
    try:
        with transaction.atomic():
            result = sim.simulate(policy="earliest", rate=1.0, weeks=weeks, seed=1)
            rows = list(
                Appointment.objects.filter(site__name="Simulated clinic (earliest)")
                .order_by("pk")
                .values_list("pk", "status", "phase", "starts_at")
            )
            raise _RolledBack(result, rows)
    except _RolledBack as done:
        return done.args


@pytest.mark.django_db
@pytest.mark.parametrize("lead", [1, 2])
def test_a_cancellation_due_on_a_weekend_is_still_made(monkeypatch, lead):
    """A patient arriving Mon 4 Jan 2027 gets sessions Tue 5, Thu 7, Mon 11 ... (earliest, empty
    clinic). The third one (k=2, Mon 11) is cancelled `lead` days ahead: Sun 10 or Sat 9. The bench
    files the cancellation under that date in `cancel_on`, but only pops open days, so it never
    happens and the session is played as delivered instead (bench/clinic_simulation.py:536, 636)."""
    fates = {2: sim.Fate(cancel_lead_days=lead, no_show=False, lateness=0.0, setup=20.0)}
    result, rows = _simulate(monkeypatch, arrival_day=dt.date(2027, 1, 4), weeks=2, fates=fates)

    first_six = sorted(rows[:6], key=lambda r: r[3])
    _pk, status, _phase, starts_at = first_six[2]
    day = starts_at.astimezone(sim.ZONE).date()
    assert day == dt.date(2027, 1, 11), "precondition: the third session is on Monday 11 January"
    assert (day - dt.timedelta(days=lead)).weekday() >= 5  # its cancellation day is a weekend day
    # The patient cancelled it lead days ahead: it must not be delivered.
    assert result["cancelled"] == 1
    assert status == "cancelled"


@pytest.mark.django_db
def test_every_maintenance_session_lost_after_a_gap_counts_as_not_placed(monkeypatch):
    """The first maintenance session finds no free day (the site is closed around its target), so
    the layout stops there: no maintenance session is placed until the review date (July 2027),
    twelve sessions at a 14-day interval (1 Feb ... 5 Jul). The bench reads the count from the
    attention note: the engine ends the layout at the first gap, so the note holds one problem, and
    `count("; ") + 1` counts it as two because the problem's own text ("... after the previous one);
    the sessions after it are not laid out") holds a "; ". The ten or so sessions after the gap are
    dropped from both `requested` and `refused` (bench/clinic_simulation.py:742-749)."""
    from clinic.models import Closure

    def close_around_first_target(clinic):
        # Induction: Tue 5 Jan ... Mon 18 Jan; the first maintenance target is 14 days later, 1 Feb.
        Closure.objects.create(
            site=clinic["site"],
            starts_at=sim._local(dt.date(2027, 1, 25), 0),
            ends_at=sim._local(dt.date(2027, 2, 10), 0),
            reason="Renovation",
        )

    result, rows = _simulate(
        monkeypatch, arrival_day=dt.date(2027, 1, 4), weeks=3, fates={}, extra=close_around_first_target
    )

    assert [r for r in rows if r[2] == "maintenance"] == []  # precondition: nothing laid out
    # From 1 Feb to the review date (5 Jul) at 14 days: 12 sessions were asked for and not placed
    # (the bench says 2: one gap, counted twice).
    assert result["maintenance_refused"] >= 10


@pytest.mark.django_db
def test_a_cancellation_due_after_the_last_simulated_day_is_not_made_nor_counted(monkeypatch):
    # One week simulated (Mon 4 - Fri 8 Jan 2027); the course (earliest, empty clinic) is Tue 5,
    # Thu 7, Mon 11, Wed 13, Fri 15, Mon 18. The fourth session (k=3, Wed 13) is cancelled one day
    # ahead, on Tue 12: an open day after the run. It must not be walked back into the run like a
    # weekend one (cancelled five days early, counted, and re-flowed as a new request).
    fates = {3: sim.Fate(cancel_lead_days=1, no_show=False, lateness=0.0, setup=20.0)}
    result, rows = _simulate(monkeypatch, arrival_day=dt.date(2027, 1, 4), weeks=1, fates=fates)

    _pk, status, _phase, starts_at = sorted(rows[:6], key=lambda r: r[3])[3]
    assert starts_at.astimezone(sim.ZONE).date() == dt.date(2027, 1, 13), "precondition: the 4th session on Wed 13"
    assert status == "booked", "a cancellation due on Tue 12, after the run, was made inside it"
    assert result["cancelled"] == 0, "a cancellation due after the run was counted"
    assert result["requested"] == 6, "a cancellation due after the run was re-flowed as a new request"
