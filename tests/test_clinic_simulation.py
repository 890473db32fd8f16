"""The clinic simulation bench (bench/clinic_simulation.py) at toy size: its invariants, not its targets.

Two weeks of small demand go through the real booking services on the test database, once per
placement policy, each in a transaction that is rolled back so every policy starts from an empty
clinic. The targets (waits, overtime, weekday balance, volume) are the bench's job."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pytest
from django.db import transaction

from scheduling.models import Appointment

_PATH = Path(__file__).resolve().parent.parent / "bench" / "clinic_simulation.py"
_spec = importlib.util.spec_from_file_location("clinic_simulation", _PATH)
sim = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("clinic_simulation", sim)
_spec.loader.exec_module(sim)

WEEKS, RATE, SEED = 2, 1.5, 3


class _RolledBack(Exception):
    pass


def _run_on_empty_clinic(policy: str) -> tuple[dict, dict]:
    """Simulate, read back what the database holds, and roll it all back."""
    try:
        with transaction.atomic():
            result = sim.simulate(policy=policy, rate=RATE, weeks=WEEKS, seed=SEED)
            first = dt.datetime.combine(sim.FIRST_DAY, dt.time(0), tzinfo=sim.ZONE)
            played = Appointment.objects.filter(
                site__placement_policy=policy, starts_at__gte=first, starts_at__lt=first + dt.timedelta(weeks=WEEKS)
            )
            stored = {
                "held": played.filter(status="completed").count(),
                "left_booked": played.filter(status__in=["booked", "confirmed"]).count(),
                "no_show": played.filter(status="no_show").count(),
                "cancelled": Appointment.objects.filter(site__placement_policy=policy, status="cancelled").count(),
            }
            raise _RolledBack(result, stored)
    except _RolledBack as done:
        return done.args


@pytest.mark.django_db
def test_both_policies_replay_the_same_demand_through_the_services_without_breaking_a_rule():
    earliest, earliest_db = _run_on_empty_clinic("earliest")
    level, level_db = _run_on_empty_clinic("level")

    assert earliest["demand"] == level["demand"]
    assert earliest["arrivals"] == level["arrivals"] > 0
    assert earliest["courses_requested"] == level["courses_requested"] == earliest["arrivals"]
    assert (earliest["site_policy"], level["site_policy"]) == ("earliest", "level")
    for result, stored in ((earliest, earliest_db), (level, level_db)):
        assert result["rules_broken"] == []
        assert result["delivered"] > 0
        # Every session the simulated days held was played and recorded completed, every no-show was
        # marked by the service.
        assert result["delivered"] == stored["held"]
        assert stored["left_booked"] == 0, "every session of a simulated day is completed or marked a no-show"
        assert result["no_shows"] == stored["no_show"]
        assert result["cancelled"] <= stored["cancelled"]
        assert 0 <= result["refused"] <= result["requested"]
        assert result["requested"] >= 6 * result["courses_requested"]
        assert 0 <= result["wait_median"] <= result["wait_p90"]
        # A setup begins no earlier than the patient arrives: their lateness is the wait's floor.
        assert result["lateness_p90"] <= result["wait_p90"] + 1e-9  # (float minutes in simpy)
        assert 0 < result["nurse_utilisation"] < 1 and 0 < result["chair_utilisation"] < 1
        # The site's day ceiling: 4 nurses, each holding at most 11 two-hour sessions a day under the
        # hands-on rules; no simulated day was booked beyond it.
        assert result["ceiling"] == {"sessions": 44, "status": "OPTIMAL"}
        assert max(result["booked_by_day"].values()) <= result["ceiling"]["sessions"]


def test_demand_and_each_sessions_fate_are_fixed_by_the_seed():
    assert sim.demand(seed=5, rate=3, weeks=4) == sim.demand(seed=5, rate=3, weeks=4)
    assert sim.demand(seed=5, rate=3, weeks=4) != sim.demand(seed=6, rate=3, weeks=4)
    assert sim.fate(seed=5, patient=2, k=3, setup_mode=20) == sim.fate(seed=5, patient=2, k=3, setup_mode=20)
    assert all(a.day.weekday() < 5 and 14 <= a.interval_days <= 42 for a in sim.demand(seed=5, rate=3, weeks=4))


def test_a_replay_draws_lateness_and_setup_again_from_its_own_stream_and_keeps_the_rest():
    drawn = sim.Fate(cancel_lead_days=3, no_show=True, lateness=0.0, setup=20.0)
    replays = [sim.replayed(drawn, seed=5, patient=2, k=3, replay=r, setup_mode=20) for r in range(400)]
    first = sim.fate(seed=5, patient=2, k=3, setup_mode=20)
    assert (replays[0].lateness, replays[0].setup) != (first.lateness, first.setup)  # a stream of its own

    assert replays[7] == sim.replayed(drawn, seed=5, patient=2, k=3, replay=7, setup_mode=20)
    assert replays[7] != sim.replayed(drawn, seed=5, patient=2, k=4, replay=7, setup_mode=20)
    assert all((r.cancel_lead_days, r.no_show) == (3, True) for r in replays)
    assert 0.62 < sum(r.lateness == 0 for r in replays) / len(replays) < 0.78  # ON_TIME_P 0.70
    assert 0 < max(r.lateness for r in replays) <= sim.LATE_MAX
    assert all(sim.SETUP_LOW <= r.setup <= sim.SETUP_HIGH for r in replays)
    assert len({r.setup for r in replays}) == len(replays)


def test_patients_starting_together_queue_for_the_one_nurse():
    fate = sim.Fate(cancel_lead_days=None, no_show=False, lateness=0.0, setup=20.0)
    visits = [sim.Visit(chair=chair, start=0.0, length=120.0, fate=fate) for chair in (1, 2, 3)]

    day = sim.play_day(
        visits,
        nurses=1,
        setups_per_nurse=1,
        check_offsets=[],
        check_minutes=5,
        discharge_minutes=10,
        close=600,
    )

    assert sorted(day.waits) == [0.0, 20.0, 40.0]
    assert day.booked_peak == 3 and day.setup_peak == 3
    assert day.nurse_minutes == 3 * 20 + 3 * 10
    assert day.overtime == 0


def test_with_booked_nurses_a_patient_waits_only_for_their_own_nurse():
    fate = sim.Fate(cancel_lead_days=None, no_show=False, lateness=0.0, setup=20.0)
    late = sim.Fate(cancel_lead_days=None, no_show=False, lateness=10.0, setup=20.0)
    visits = [
        sim.Visit(chair=1, start=0.0, length=120.0, fate=late, nurse=7),
        sim.Visit(chair=2, start=20.0, length=120.0, fate=fate, nurse=7),  # waits for nurse 7's late setup
        sim.Visit(chair=3, start=20.0, length=120.0, fate=fate, nurse=8),
    ]
    rules = {"nurses": 3, "setups_per_nurse": 1, "check_offsets": [], "check_minutes": 5}
    rules |= {"discharge_minutes": 10, "close": 600}

    pooled = sim.play_day(visits, **rules)
    assigned = sim.play_day(visits, **rules, assigned=True)

    assert sorted(pooled.waits_after_arrival) == [0.0, 0.0, 0.0]
    assert sorted(assigned.waits_after_arrival) == [0.0, 0.0, 10.0]
    assert sorted(assigned.waits) == [0.0, 10.0, 10.0]  # the late patient's own ten minutes, and the wait


def test_a_session_booked_to_the_closing_time_runs_over_when_its_setup_waits():
    fate = sim.Fate(cancel_lead_days=None, no_show=False, lateness=0.0, setup=20.0)
    visits = [sim.Visit(chair=chair, start=480.0, length=120.0, fate=fate) for chair in (1, 2)]

    day = sim.play_day(
        visits, nurses=1, setups_per_nurse=1, check_offsets=[40], check_minutes=5, discharge_minutes=10, close=600
    )

    assert day.overtime == 20.0


def test_the_overtime_detail_names_the_chair_that_ran_over_its_late_patient_and_the_chain_before():
    """Opening at 08:00 and closing at 18:00: in chair 1 a patient 40 minutes late for 14:00 keeps the
    chair until 16:40, so the next, on time at 16:00, is set up at 16:40 and leaves at 18:40, 40 minutes
    past closing. Chair 2 ends on time and is left out."""
    on_time = sim.Fate(cancel_lead_days=None, no_show=False, lateness=0.0, setup=20.0)
    late = sim.Fate(cancel_lead_days=None, no_show=False, lateness=40.0, setup=20.0)
    visits = [
        sim.Visit(chair=1, start=360.0, length=120.0, fate=late),
        sim.Visit(chair=1, start=480.0, length=120.0, fate=on_time),
        sim.Visit(chair=2, start=360.0, length=120.0, fate=on_time),
    ]
    rules = {"nurses": 2, "setups_per_nurse": 1, "check_offsets": [], "check_minutes": 5}
    day = sim.play_day(visits, **rules, discharge_minutes=10, close=600)

    assert day.overtime == 40.0
    assert sim.overtime_detail(dt.date(2027, 4, 9), day, 600) == [
        "Fri 2027-04-09: 40.0 min over, 3 sessions",
        "  chair 1 start 14:00 late 40.0 arrived 14:40 chair free 14:40 setup 14:40 out 16:40",
        "  chair 1 start 16:00 late 0.0 arrived 16:00 chair free 16:40 setup 16:40 out 18:40",
    ]
    on_time_day = sim.play_day(visits[2:], **rules, discharge_minutes=10, close=600)
    assert sim.overtime_detail(dt.date(2027, 4, 9), on_time_day, 600) == []


def test_a_nurse_off_shift_takes_no_work_and_finishes_what_she_has_when_her_shift_ends():
    fate = sim.Fate(cancel_lead_days=None, no_show=False, lateness=0.0, setup=20.0)
    # Nurse 8 comes at 60; nurse 7 leaves at 100, after her 90-110 discharge is done.
    visits = [
        sim.Visit(chair=1, start=0.0, length=110.0, fate=fate, nurse=7),
        sim.Visit(chair=2, start=0.0, length=120.0, fate=fate, nurse=8),
        sim.Visit(chair=3, start=120.0, length=120.0, fate=fate, nurse=8),
    ]
    rules = {"nurses": 2, "setups_per_nurse": 1, "check_offsets": [], "check_minutes": 5}
    rules |= {"discharge_minutes": 10, "close": 600, "shifts": {7: (0.0, 100.0), 8: (60.0, 600.0)}}

    pooled = sim.play_day(visits, **rules)
    assigned = sim.play_day(visits, **rules, assigned=True)

    # The pool: only nurse 7 there at 0 (chair 2 waits 20 for her), none but nurse 8 from 110.
    assert sorted(pooled.waits) == [0.0, 0.0, 20.0]
    # Each with her own nurse: chair 2 waits for nurse 8 to come at 60.
    assert sorted(assigned.waits) == [0.0, 0.0, 60.0]
    assert assigned.nurse_minutes == pooled.nurse_minutes == 3 * 20 + 3 * 10


def test_a_booked_nurse_finishes_her_late_patients_work_after_her_shift():
    # Nurse 7's shift ends at 130; her patient, booked 0-120, comes 30 minutes late, so the
    # discharge falls at 140-150. With booked nurses she stays for it (the patient leaves at 150,
    # long before closing); in the pool, nurse 8, still on shift, takes it.
    late = sim.Fate(cancel_lead_days=None, no_show=False, lateness=30.0, setup=20.0)
    visits = [sim.Visit(chair=1, start=0.0, length=120.0, fate=late, nurse=7)]
    rules = {"nurses": 2, "setups_per_nurse": 1, "check_offsets": [], "check_minutes": 5}
    rules |= {"discharge_minutes": 10, "close": 200, "shifts": {7: (0.0, 130.0), 8: (0.0, 200.0)}}

    pooled = sim.play_day(visits, **rules)
    assigned = sim.play_day(visits, **rules, assigned=True)

    assert assigned.overtime == pooled.overtime == 0
    assert assigned.nurse_minutes == pooled.nurse_minutes == 20 + 10
    assert assigned.waits == pooled.waits == [30.0]


@pytest.mark.django_db
def test_the_rule_check_reads_back_induction_spacing_and_opening_hours_from_the_database():
    from tests.factories import AppointmentFactory, ChairFactory, PatientFactory, PlanFactory, SiteFactory

    site = SiteFactory(time_zone=str(sim.ZONE))
    chair = ChairFactory(site=site)
    plan = PlanFactory(patient=PatientFactory(home_site=site), site=site)
    monday = dt.datetime.combine(dt.date(2027, 1, 4), dt.time(9), tzinfo=sim.ZONE)
    for starts_at in (monday, monday + dt.timedelta(hours=24), monday + dt.timedelta(days=2, hours=8)):
        AppointmentFactory(patient=plan.patient, plan=plan, chair=chair, starts_at=starts_at, phase="induction")

    problems = sim.rules_broken(site=site)

    assert any("less than 48 h apart" in p for p in problems)
    assert any("outside opening hours" in p for p in problems)


MONDAY = dt.date(2027, 1, 4)


def _nurse_site(*, shift: tuple[int, int] = (8, 18), chairs: int = 4):
    """A site allowing 3 patients and 1 setup at once per nurse; one nurse on shift on MONDAY."""
    from tests.factories import ChairFactory, ShiftFactory, SiteFactory, StaffFactory

    site = SiteFactory(time_zone=str(sim.ZONE), max_patients_per_nurse=3, setups_per_nurse=1)
    nurse = StaffFactory()
    nurse.sites.add(site)
    ShiftFactory(staff=nurse, site=site, starts_at=sim._local(MONDAY, shift[0]), ends_at=sim._local(MONDAY, shift[1]))
    return site, nurse, [ChairFactory(site=site) for _ in range(chairs)]


def _two_hour_session(site, chair, nurse, hour: int, minute: int = 0):
    from tests.factories import AppointmentFactory, PatientFactory

    starts_at = sim._local(MONDAY, hour, minute)
    return AppointmentFactory(
        patient=PatientFactory(home_site=site),
        chair=chair,
        site=site,
        nurse=nurse,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=120),
    )


@pytest.mark.django_db
def test_the_rule_check_reports_a_nurse_watching_more_patients_than_the_ratio():
    site, nurse, chairs = _nurse_site()
    # From 10:25 to 11:00 the nurse watches four patients; the site allows three. Her hands-on
    # intervals (setup 20 min, check at 40 min, discharge in the last 10) only touch end to end.
    for chair, (hour, minute) in zip(chairs, [(9, 0), (9, 20), (10, 5), (10, 25)], strict=True):
        _two_hour_session(site, chair, nurse, hour, minute)

    problems = sim.rules_broken(site=site)

    assert any(f"nurse {nurse.pk} watches 4 patients at once" in p for p in problems), problems
    assert not any("setups" in p or "shift" in p for p in problems), problems


@pytest.mark.django_db
def test_the_rule_check_reports_two_setups_at_once_for_one_nurse():
    site, nurse, chairs = _nurse_site()
    _two_hour_session(site, chairs[0], nurse, 9)
    _two_hour_session(site, chairs[1], nurse, 9)

    problems = sim.rules_broken(site=site)

    assert any(f"nurse {nurse.pk} has 2 setups, checks or discharges at once" in p for p in problems), problems
    assert not any("watches" in p for p in problems), problems


@pytest.mark.django_db
def test_the_rule_check_reports_a_session_outside_its_nurses_shift():
    site, nurse, chairs = _nurse_site(shift=(12, 18))
    session = _two_hour_session(site, chairs[0], nurse, 9)

    problems = sim.rules_broken(site=site)

    assert problems == [f"session {session.pk} (2027-01-04 09:00-11:00) outside its nurse {nurse.pk}'s shift"]


def test_the_overtime_cause_is_the_last_patient_outs_start_and_the_largest_delay_that_held_them():
    """Closing at 18:00 (600 minutes from 08:00). The last patient out names the start that ran over, and
    the largest of their own lateness and their waits for the chair, a setup, a check or the discharge."""
    on_time = sim.Fate(cancel_lead_days=None, no_show=False, lateness=0.0, setup=20.0)

    def late(minutes: float) -> sim.Fate:
        return sim.Fate(cancel_lead_days=None, no_show=False, lateness=minutes, setup=20.0)

    rules = {"nurses": 1, "setups_per_nurse": 1, "check_offsets": [], "check_minutes": 5}
    rules |= {"discharge_minutes": 10, "close": 600}

    def cause(*visits: sim.Visit) -> tuple[str, str] | None:
        return sim.overtime_cause(sim.play_day(list(visits), **rules))

    # 14:00 comes 40 minutes late and keeps chair 1 until 16:40: the 16:00 patient waits for it.
    assert cause(
        sim.Visit(chair=1, start=360.0, length=120.0, fate=late(40.0)),
        sim.Visit(chair=1, start=480.0, length=120.0, fate=on_time),
    ) == ("16:00", "chair")
    # 14:00 comes 35 minutes late (chair free at 16:35); 16:00 comes 30 late and waits 5 more: lateness.
    assert cause(
        sim.Visit(chair=1, start=360.0, length=120.0, fate=late(35.0)),
        sim.Visit(chair=1, start=480.0, length=120.0, fate=late(30.0)),
    ) == ("16:00", "late")
    # Two on time at 16:00 and one nurse: the second waits 20 minutes for her setup.
    assert cause(*(sim.Visit(chair=chair, start=480.0, length=120.0, fate=on_time) for chair in (1, 2))) == (
        "16:00",
        "setup",
    )
    # 14:00 for four hours and 16:00 for two, both on time: their discharges fall at 17:50 together.
    assert (
        cause(
            sim.Visit(chair=1, start=360.0, length=240.0, fate=on_time),
            sim.Visit(chair=2, start=480.0, length=120.0, fate=on_time),
        )[1]
        == "check/discharge"
    )
    # Out by closing: no cause.
    assert cause(sim.Visit(chair=1, start=360.0, length=120.0, fate=late(40.0))) is None
