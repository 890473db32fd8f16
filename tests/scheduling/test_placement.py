"""The level placement policy, one weight at a time: each test sets up a day where that
weight alone decides, and shows the level choice differs from the earliest one (or, for
the last weight, that it is the earliest). And the words each choice comes with."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from scheduling.engine import Availability, ChairState, InductionRule, NurseState, Preferences, SiteSnapshot, Slot, Span
from scheduling.engine.model import NurseWork, Proposal
from scheduling.engine.placement import (
    EARLIEST,
    LEVEL,
    Habits,
    Placement,
    Placer,
    propose_induction_placed,
    propose_maintenance_placed,
)
from scheduling.engine.planner import MaintenanceRule

ZONE = ZoneInfo("America/New_York")
TUESDAY = dt.date(2026, 3, 3)
MINUTE = dt.timedelta(minutes=1)
SESSION = 120 * MINUTE
# Each chair of `site()` takes protocols of one session length, SESSION.
EVERY_CHAIR_SESSION = {1: SESSION, 2: SESSION}


def at(day: dt.date, clock: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(clock), tzinfo=ZONE).astimezone(dt.UTC)


def booked(day: dt.date, clock: str, minutes: int = 120) -> Span:
    start = at(day, clock)
    return Span(start, start + minutes * MINUTE)


def site(
    *,
    chairs: dict[int, list[Span]] | None = None,
    nurse_booked: dict[int, list[Span]] | None = None,
    nurses: int = 2,
    days: int = 14,
    setups_per_nurse: int | None = 1,
) -> SiteSnapshot:
    chairs = chairs or {1: [], 2: []}
    nurse_booked = nurse_booked or {}
    work = NurseWork()
    shifts = tuple(
        Span(at(TUESDAY + dt.timedelta(d - 7), "07:00"), at(TUESDAY + dt.timedelta(d - 7), "19:00"))
        for d in range(days + 7)
    )
    return SiteSnapshot(
        id=1,
        name="Level",
        zone=ZONE,
        opening={weekday: (dt.time(8), dt.time(18)) for weekday in range(5)},
        closures=(),
        chairs=tuple(
            ChairState(i, f"Chair {i}", frozenset({"iv"}), tuple(sorted(spans))) for i, spans in chairs.items()
        ),
        nurses=tuple(
            NurseState(
                n,
                f"N{n}",
                shifts,
                tuple(sorted(nurse_booked.get(n, []))),
                tuple(sorted(h for b in nurse_booked.get(n, []) for h in work.hands_on(b.start, b.end))),
            )
            for n in range(1, nurses + 1)
        ),
        setups_per_nurse=setups_per_nurse,
    )


def choose(snapshot: SiteSnapshot, policy: str, day: dt.date = TUESDAY, **placement) -> tuple[Slot, str]:
    choice = Placer(Availability(snapshot), Placement(policy=policy, **placement)).choose(
        day, SESSION, "iv", Preferences()
    )
    return choice.slot, choice.why


def test_on_an_empty_day_both_policies_take_the_earliest_time_and_first_chair():
    level, why = choose(site(), LEVEL)
    earliest, _ = choose(site(), EARLIEST)
    assert level == earliest == Slot(at(TUESDAY, "08:00"), at(TUESDAY, "10:00"), 1, 1)
    assert why.startswith("Tue 3 Mar 2026 08:00, Chair 1: keeps setups apart (no other start 08:00–08:15)")


def test_level_starts_beside_another_in_its_quarter_hour_while_another_nurse_can_set_it_up():
    # One session starts at 08:00 (chair 1, nurse 1); nurse 2 can set up another at 08:00: the
    # quarter hour holds fewer starts than the site's nurses can set up at once, so level packs
    # the day from opening like earliest (spreading starts cost nurse time, issue 17's bench).
    snapshot = site(chairs={1: [booked(TUESDAY, "08:00")], 2: []}, nurse_booked={1: [booked(TUESDAY, "08:00")]})
    earliest, _ = choose(snapshot, EARLIEST)
    level, why = choose(snapshot, LEVEL, shortest_sessions={1: 15 * MINUTE, 2: 15 * MINUTE})
    assert earliest.start == level.start == at(TUESDAY, "08:00")
    assert (level.chair_id, level.nurse_id) == (2, 2)
    assert why.startswith("Tue 3 Mar 2026 08:00, Chair 2: 1 other start 08:00–08:15, each with another nurse")


def test_the_quarter_hour_cap_counts_the_nurses_on_shift_not_every_nurse_of_the_site():
    # Two nurses work at the site, only nurse 1 on Tuesday, and she starts a session at 08:00 (the
    # site sets no hands-on limit, so she may take a second then): counting nurse 2 too, the
    # quarter hour looked as if another nurse could set up a second start.
    snapshot = site(
        chairs={1: [booked(TUESDAY, "08:00")], 2: []},
        nurse_booked={1: [booked(TUESDAY, "08:00")]},
        setups_per_nurse=None,
    )
    first, second = snapshot.nurses
    off_on_tuesday = tuple(shift for shift in second.shifts if shift.start.astimezone(ZONE).date() != TUESDAY)
    snapshot = replace(snapshot, nurses=(first, replace(second, shifts=off_on_tuesday)))
    assert choose(snapshot, EARLIEST)[0].start == at(TUESDAY, "08:00")
    level, why = choose(snapshot, LEVEL)
    assert (level.start, level.nurse_id) == (at(TUESDAY, "08:15"), 1), why
    assert "keeps setups apart (no other start 08:15–08:30)" in why


def test_level_keeps_a_session_from_ending_near_closing_unless_nothing_else_fits():
    # The day template asks for 16:00 in chair 1, but a session ending at 18:00 runs over with
    # any lateness: level takes the earliest time instead.
    preferred = {1: frozenset({dt.time(16, 0)})}
    level, why = choose(site(), LEVEL, preferred_starts=preferred)
    assert level.start == at(TUESDAY, "08:00")
    assert "ends well before closing" in why
    # When 16:00 is the only free time, it is taken.
    full = site(chairs={1: [booked(TUESDAY, "08:00", 480)]})
    assert choose(full, LEVEL)[0].start == at(TUESDAY, "16:00")


def test_level_keeps_clear_of_the_last_45_minutes_before_closing_when_it_can():
    # A template start at 15:30 ends at 17:30: a patient half an hour late, or late and then waiting
    # for a nurse, runs past 18:00. Level takes the earliest time instead while one is free.
    preferred = {1: frozenset({dt.time(15, 30)})}
    level, why = choose(site(), LEVEL, preferred_starts=preferred)
    assert level.start == at(TUESDAY, "08:00")
    assert "ends well before closing" in why


def test_when_only_late_times_are_free_level_takes_the_one_ending_soonest():
    # Chair 1 is busy until 15:45: the template's 16:00 would end at closing, 15:45 a quarter hour
    # before it; both are late, 15:45 less so, and it outranks the template.
    preferred = {1: frozenset({dt.time(16, 0)})}
    late = site(chairs={1: [booked(TUESDAY, "08:00", 465)]})
    level, why = choose(late, LEVEL, preferred_starts=preferred)
    assert level.start == at(TUESDAY, "15:45")
    assert "of the free times near closing, the one ending soonest" in why


def test_level_takes_a_start_of_the_day_template_next():
    preferred = {2: frozenset({dt.time(9, 30)})}
    level, why = choose(site(), LEVEL, preferred_starts=preferred)
    assert (level.start, level.chair_id) == (at(TUESDAY, "09:30"), 2)
    assert "a start of the day template" in why
    assert choose(site(), EARLIEST, preferred_starts=preferred)[0].start == at(TUESDAY, "08:00")


def test_level_gives_a_template_chair_the_nurse_of_its_lane():
    # The template solved per nurse gave chair 1 to the second nurse on shift: level books that nurse
    # (without lanes the tie of two unused nurses goes to the first).
    preferred = {1: frozenset({dt.time(8)}), 2: frozenset({dt.time(8)})}
    with_lanes, _ = choose(site(), LEVEL, preferred_starts=preferred, chair_lanes={1: 1, 2: 0})
    without, _ = choose(site(), LEVEL, preferred_starts=preferred)
    assert (with_lanes.chair_id, with_lanes.nurse_id) == (1, 2)
    assert (without.chair_id, without.nurse_id) == (1, 1)
    # A lane past the nurses on shift wraps round; earliest ignores lanes.
    assert choose(site(), LEVEL, preferred_starts=preferred, chair_lanes={1: 3})[0].nurse_id == 2
    assert choose(site(), EARLIEST, chair_lanes={1: 1})[0].nurse_id == 1


def test_level_leaves_no_chair_gap_too_short_for_a_session():
    # Chair 1 is busy from 10:15, chair 2 from 10:00: an 08:00 session in chair 1 would leave
    # 10:00-10:15 unusable; in chair 2 it fits exactly.
    snapshot = site(chairs={1: [booked(TUESDAY, "10:15")], 2: [booked(TUESDAY, "10:00")]})
    earliest, _ = choose(snapshot, EARLIEST)
    level, why = choose(snapshot, LEVEL)
    assert (earliest.start, earliest.chair_id) == (at(TUESDAY, "08:00"), 1)
    assert (level.start, level.chair_id) == (at(TUESDAY, "08:00"), 2)
    assert "leaves no gap in Chair 2 too short to use" in why


def test_level_measures_each_chairs_gaps_by_the_shortest_session_that_chair_takes():
    # Chair 1 takes only two-hour sessions and is busy from 11:30; chair 2 also takes one-hour
    # sessions and is busy from 11:00 and 14:00. An 08:00 session leaves 90 minutes in chair 1, too
    # short for anything it takes, and an hour in chair 2, one short session: level takes chair 2,
    # though it is the more used. Measured by the site's shortest (an hour) it took chair 1.
    snapshot = site(chairs={1: [booked(TUESDAY, "11:30")], 2: [booked(TUESDAY, "11:00"), booked(TUESDAY, "14:00")]})
    by_chair = {1: SESSION, 2: 60 * MINUTE}
    level, why = choose(snapshot, LEVEL, shortest_sessions=by_chair)
    assert (level.start, level.chair_id) == (at(TUESDAY, "08:00"), 2), why
    assert "leaves no gap in Chair 2 too short to use" in why
    site_wide = {1: 60 * MINUTE, 2: 60 * MINUTE}
    assert choose(snapshot, LEVEL, shortest_sessions=site_wide)[0].chair_id == 1


def test_a_chair_that_takes_no_protocol_has_no_gap_counted_against_it():
    # Both chairs are busy from 10:15: an 08:00 session leaves a quarter hour in either. Chair 2
    # takes no protocol (left out of the shortest sessions): no gap there is of use, so none is
    # lost, and level takes it though it is the more used. Without any shortest session known, a
    # gap is measured by the session's own length, in both chairs alike.
    snapshot = site(chairs={1: [booked(TUESDAY, "10:15")], 2: [booked(TUESDAY, "10:15"), booked(TUESDAY, "14:00")]})
    level, why = choose(snapshot, LEVEL, shortest_sessions={1: SESSION})
    assert (level.start, level.chair_id) == (at(TUESDAY, "08:00"), 2), why
    assert choose(snapshot, LEVEL)[0].chair_id == 1


def test_level_takes_the_least_used_chair():
    snapshot = site(chairs={1: [booked(TUESDAY, "14:00")], 2: []})
    assert choose(snapshot, EARLIEST)[0].chair_id == 1
    level, why = choose(snapshot, LEVEL)
    assert (level.start, level.chair_id) == (at(TUESDAY, "08:00"), 2)
    assert "Chair 2 least used" in why


def test_level_gives_the_session_to_the_nurse_least_used_that_day():
    # Nurse 1 has an afternoon session; both are free at 08:00 (the earliest policy takes nurse 1).
    snapshot = site(chairs={1: [booked(TUESDAY, "14:00")], 2: []}, nurse_booked={1: [booked(TUESDAY, "14:00")]})
    assert choose(snapshot, EARLIEST)[0].nurse_id == 1
    assert choose(snapshot, LEVEL)[0].nurse_id == 2


def test_on_an_otherwise_even_day_level_takes_the_patients_usual_time_and_chair():
    # An empty Tuesday: every weight before the habits ties for every start (no other start in any
    # quarter hour, no template, the same day), and 14:00-16:00 leaves no chair gap shorter than a
    # session. The patient's usual time and chair come before the earliest start.
    habits = Habits(weekday=TUESDAY.weekday(), clock=dt.time(14), chair_id=2)
    level, why = choose(site(), LEVEL, habits=habits, shortest_sessions=EVERY_CHAIR_SESSION)
    assert (level.start, level.chair_id) == (at(TUESDAY, "14:00"), 2), why
    assert "the patient's usual time" in why and "the patient's usual chair" in why
    assert choose(site(), EARLIEST, habits=habits)[0].start == at(TUESDAY, "08:00")
    # Without habits the day is packed from opening.
    assert choose(site(), LEVEL, shortest_sessions=EVERY_CHAIR_SESSION)[0].start == at(TUESDAY, "08:00")


def test_the_patients_usual_time_does_not_outrank_setups_apart():
    # Another patient starts at 14:00 in chair 1 with the only nurse on shift: a 14:00 start for
    # the patient would be a second setup in that quarter hour, so level takes the nearest time
    # to 14:00 whose quarter hour is clear.
    snapshot = site(
        chairs={1: [booked(TUESDAY, "14:00")], 2: []},
        nurse_booked={1: [booked(TUESDAY, "14:00")]},
        nurses=1,
        setups_per_nurse=None,
    )
    habits = Habits(clock=dt.time(14))
    level, why = choose(snapshot, LEVEL, habits=habits)
    assert level.start in {at(TUESDAY, "13:45"), at(TUESDAY, "14:15")}, why


def test_maintenance_under_level_takes_the_patients_usual_weekday_within_the_tolerance():
    rule = MaintenanceRule(session_length=SESSION, route="iv", interval_days=28, min_days=14, max_days=42)
    previous = at(TUESDAY, "10:00")
    until = TUESDAY + dt.timedelta(days=30)
    snapshot = site(days=40)
    thursday = TUESDAY.weekday() + 2
    placer = Placer(Availability(snapshot), Placement(policy=LEVEL, habits=Habits(weekday=thursday)))
    slots, _, reasons = propose_maintenance_placed(placer, rule, previous, until, Preferences())
    assert [s.start.astimezone(ZONE).weekday() for s in slots] == [thursday]
    assert "the patient's usual weekday" in reasons[0].because
    earliest = Placer(Availability(snapshot), Placement(policy=EARLIEST))
    slots, _, reasons = propose_maintenance_placed(earliest, rule, previous, until, Preferences())
    assert [s.start.astimezone(ZONE).date() for s in slots] == [TUESDAY + dt.timedelta(days=28)]
    assert [str(why) for why in reasons] == ["Tue 31 Mar 2026 08:00, Chair 1: the earliest free time"]


@pytest.mark.parametrize("policy", [LEVEL, EARLIEST])
def test_maintenance_never_lays_a_session_out_past_the_maximum_gap_after_one_that_found_no_day(policy):
    # Every 7 days, 4 to 10 days apart, from Tuesday 3 Mar. Only Tuesday 10 Mar is free for the
    # first; the second's whole range (14-20 Mar) is full. Laying the rest out from the missed
    # session's target (17 Mar) put the third on 23 Mar, 13 days after the last session.
    rule = MaintenanceRule(session_length=SESSION, route="iv", interval_days=7, min_days=4, max_days=10)
    full = [TUESDAY + dt.timedelta(days=d) for d in (6, 8, 9, 10, 13, 14, 15, 16, 17)]
    chairs: dict[int, list[Span]] = {1: [], 2: []}
    for day in full:
        for spans in chairs.values():
            spans.append(booked(day, "08:00", 600))
    placer = Placer(Availability(site(chairs=chairs, days=40)), Placement(policy=policy))
    slots, problems, reasons = propose_maintenance_placed(
        placer, rule, at(TUESDAY, "10:00"), TUESDAY + dt.timedelta(days=30), Preferences()
    )
    assert [s.start.astimezone(ZONE).date() for s in slots] == [TUESDAY + dt.timedelta(days=7)]
    assert len(reasons) == 1
    assert [p.day for p in problems] == [TUESDAY + dt.timedelta(days=14)]
    assert "at most 10 days after the previous one" in str(problems[0])
    assert "the sessions after it are not laid out" in str(problems[0])


def _busy_all_day(day: dt.date, chairs: int) -> dict[int, list[Span]]:
    # Every chair busy 10:00-18:00 that day: still room at 08:00, but a heavy day.
    return {c: [booked(day, "10:00", 480)] for c in range(1, chairs + 1)}


def test_a_course_moves_a_session_to_the_quietest_day_its_rules_allow():
    # Three sessions in 9 days, 48 hours apart, from Monday (the site is closed at weekends).
    # The earliest course is Mon, Wed, Fri; Wednesday is nearly full and Thursday empty, so
    # level puts the second on Thursday (the third still fits on the next Monday).
    monday = TUESDAY - dt.timedelta(days=1)
    wednesday = TUESDAY + dt.timedelta(days=1)
    snapshot = site(chairs=_busy_all_day(wednesday, 2))
    rule = InductionRule(session_length=SESSION, min_gap=48 * 60 * MINUTE, route="iv", sessions=3, window_days=9)
    earliest = propose_induction_placed(
        Placer(Availability(snapshot), Placement(policy=EARLIEST)), rule, monday, Preferences()
    )
    level = propose_induction_placed(
        Placer(Availability(snapshot), Placement(policy=LEVEL)), rule, monday, Preferences()
    )
    assert [s.start.astimezone(ZONE).strftime("%a") for s in earliest.slots] == ["Mon", "Wed", "Fri"]
    assert [s.start.astimezone(ZONE).strftime("%a %-d") for s in level.slots] == ["Mon 2", "Thu 5", "Mon 9"]
    assert "the quietest allowed day (0% of chair time booked)" in level.reasons[1]
    assert earliest.reasons[1] == "Wed 4 Mar 2026 08:00, Chair 1: the earliest free time"


def test_a_session_stays_on_a_busy_day_when_the_rest_of_the_course_would_not_fit_after_a_quieter_one():
    # Three sessions in 7 days, 48 hours apart, closed at weekends: after a Thursday session
    # the third would fall on the weekend, outside the window, so Wednesday it is.
    monday = TUESDAY - dt.timedelta(days=1)
    wednesday = TUESDAY + dt.timedelta(days=1)
    snapshot = site(chairs=_busy_all_day(wednesday, 2))
    rule = InductionRule(session_length=SESSION, min_gap=48 * 60 * MINUTE, route="iv", sessions=3, window_days=7)
    level = propose_induction_placed(
        Placer(Availability(snapshot), Placement(policy=LEVEL)), rule, monday, Preferences()
    )
    assert [s.start.astimezone(ZONE).strftime("%a") for s in level.slots] == ["Mon", "Wed", "Fri"]
    assert len(level.reasons) == 3


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="unknown placement policy"):
        Placement(policy="random")


def _book_courses(policy: str, courses: int) -> list[Slot]:
    """`courses` six-in-three-weeks courses asked for on successive weekdays, each booked
    (claimed) before the next is proposed, at a 4-chair, 2-nurse site."""
    snapshot = site(chairs={c: [] for c in range(1, 5)}, nurses=2, days=60)
    placer = Placer(Availability(snapshot), Placement(policy=policy))
    rule = InductionRule(session_length=SESSION, min_gap=48 * 60 * MINUTE, route="iv", sessions=6, window_days=21)
    monday = TUESDAY - dt.timedelta(days=1)
    booked: list[Slot] = []
    for index in range(courses):
        start = monday + dt.timedelta(days=(index // 3) * 7 + (index % 3) * 2)  # Mon, Wed, Fri, Mon ...
        proposal = propose_induction_placed(placer, rule, start, Preferences())
        for slot in proposal.slots:
            placer.claim(slot, for_patient=False)  # each course is another patient's
        booked += proposal.slots
    return booked


def test_level_spreads_sessions_over_the_week_where_earliest_piles_them_up():
    from collections import Counter

    results = {}
    for policy in (EARLIEST, LEVEL):
        booked = _book_courses(policy, 9)
        local = [slot.start.astimezone(ZONE) for slot in booked]
        per_quarter = Counter((t.date(), t.hour, t.minute // 15) for t in local)
        per_weekday = [sum(1 for t in local if t.weekday() == weekday) for weekday in range(5)]
        results[policy] = (max(per_quarter.values()), max(per_weekday) - min(per_weekday))
    # Both start at most as many sessions in one quarter hour as the two nurses can set up.
    assert results[EARLIEST][0] <= 2 and results[LEVEL][0] <= 2
    # And the busiest open weekday is closer to the quietest (earliest leaves Tuesdays and
    # Thursdays empty: every course starting Mon, Wed or Fri keeps to those days).
    assert results[LEVEL][1] < results[EARLIEST][1]


def test_with_several_setups_per_nurse_a_time_is_scored_by_the_nurse_who_would_take_it():
    # Two setups per nurse. Nurse 1 has a session at 09:00 and nurse 2 one at 08:00; chair 3 is
    # free. At 09:00 nurse 1's hands would meet her own setup, check and discharge, nurse 2's none:
    # both are free, so 09:00 is a clean start with nurse 2. The free-slot sweep names nurse 1
    # (the lowest id of the least loaded), and scoring by her pushed level past 09:00.
    snapshot = site(
        chairs={1: [booked(TUESDAY, "09:00")], 2: [booked(TUESDAY, "08:00")], 3: []},
        nurse_booked={1: [booked(TUESDAY, "09:00")], 2: [booked(TUESDAY, "08:00")]},
        setups_per_nurse=2,
    )

    chosen = Placer(Availability(snapshot), Placement(policy=LEVEL)).choose(
        TUESDAY, SESSION, "iv", Preferences(), at(TUESDAY, "09:00")
    )

    assert (chosen.slot.start, chosen.slot.chair_id, chosen.slot.nurse_id) == (at(TUESDAY, "09:00"), 3, 2)
    assert "overlaps" not in chosen.why


def test_the_words_claim_a_nurse_for_each_start_and_the_least_used_chair_only_when_true():
    # One nurse who may set up two at once, a session at 09:00 on chair 1, open from 09:00: the
    # level choice also starts at 09:00 (chair 2) with the same nurse, so the words may not say
    # "each with another nurse".
    one_nurse = site(
        chairs={1: [booked(TUESDAY, "09:00")], 2: []},
        nurse_booked={1: [booked(TUESDAY, "09:00")]},
        nurses=1,
        setups_per_nurse=2,
    )
    one_nurse = replace(one_nurse, opening={weekday: (dt.time(9), dt.time(11)) for weekday in range(5)})
    slot, why = choose(one_nurse, LEVEL)
    assert (slot.start, slot.chair_id) == (at(TUESDAY, "09:00"), 2)
    assert "each with another nurse" not in why
    assert "1 other start 09:00–09:15, no more than the nurses on shift can set up at once" in why

    # Chair 1 has 120 booked minutes, chair 2 none, chair 3 240; the day template prefers chair 1
    # at 09:00, so level takes it there. Chair 2 is used less: chair 1 is not "least used".
    busy = site(
        chairs={1: [booked(TUESDAY, "13:00")], 2: [], 3: [booked(TUESDAY, "12:00", 240)]},
        nurse_booked={2: [booked(TUESDAY, "13:00"), booked(TUESDAY, "12:00", 240)]},
    )
    slot, why = choose(busy, LEVEL, preferred_starts={1: frozenset({dt.time(9)})})
    assert (slot.start, slot.chair_id) == (at(TUESDAY, "09:00"), 1)
    assert "least used" not in why


def test_level_maintenance_never_lays_out_fewer_sessions_than_earliest():
    # Weekly, 6-8 days apart, a day either side. The second week's days 7 and 8 each have one
    # session booked, day 6 none, so level likes day 6 best; but from day 6 the next session
    # must fall on days 12-14, all closed, while from day 7 earliest reaches day 15. Level takes
    # a day from which the rest still fits.
    london = ZoneInfo("Europe/London")
    first = dt.date(2026, 3, 2)

    def on(day: int, hour: int) -> dt.datetime:
        return dt.datetime.combine(first + dt.timedelta(days=day), dt.time(hour), tzinfo=london).astimezone(dt.UTC)

    busy = tuple(Span(on(day, 13), on(day, 15)) for day in (7, 8))
    work = NurseWork()
    snapshot = SiteSnapshot(
        id=1,
        name="Closed a while",
        zone=london,
        opening={weekday: (dt.time(9), dt.time(17)) for weekday in range(7)},
        closures=((Span(on(12, 0), on(15, 0)), "refit"),),
        chairs=(ChairState(1, "Chair 1", frozenset({"iv"})), ChairState(2, "Chair 2", frozenset({"iv"}), busy)),
        nurses=(
            NurseState(
                7,
                "N",
                tuple(Span(on(day, 8), on(day, 18)) for day in range(30)),
                busy,
                tuple(h for b in busy for h in work.hands_on(b.start, b.end)),
            ),
        ),
        setups_per_nurse=1,
    )
    rule = MaintenanceRule(
        session_length=SESSION, route="iv", interval_days=7, min_days=6, max_days=8, tolerance_days=1
    )

    def layout(policy: str) -> tuple[list[int], list]:
        placer = Placer(Availability(snapshot, (), work), Placement(policy=policy))
        slots, missed, _ = propose_maintenance_placed(
            placer, rule, on(0, 9), first + dt.timedelta(days=20), Preferences(), on(0, 8)
        )
        return [(s.start.astimezone(london).date() - first).days for s in slots], missed

    assert layout(EARLIEST) == ([7, 15], [])
    days, missed = layout(LEVEL)
    assert len(days) == 2 and missed == []


def test_a_later_first_day_is_told_to_a_patient_without_the_clinics_reasons():
    # Monday (the day asked for) is heavy, Tuesday empty: level starts the course on Tuesday and
    # says why to staff ("the quietest allowed day ..."); a patient reads the day alone.
    monday = TUESDAY - dt.timedelta(days=1)
    snapshot = site(chairs=_busy_all_day(monday, 2))
    rule = InductionRule(session_length=SESSION, min_gap=48 * 60 * MINUTE, route="iv", sessions=3, window_days=9)
    earliest = propose_induction_placed(
        Placer(Availability(snapshot), Placement(policy=EARLIEST)), rule, monday, Preferences()
    )
    level = propose_induction_placed(
        Placer(Availability(snapshot), Placement(policy=LEVEL)), rule, monday, Preferences()
    )
    assert isinstance(earliest, Proposal) and isinstance(level, Proposal)
    assert earliest.slots[0].start.astimezone(ZONE).date() == monday
    assert earliest.notes_for_patient == earliest.notes  # nothing of the clinic's to leave out
    assert level.slots[0].start.astimezone(ZONE).date() == TUESDAY
    (staff_note,) = [note for note in level.notes if note.startswith("Starts ")]
    assert staff_note == f"Starts Tue 3 Mar; {level.whys[0].because}" and "booked" in staff_note
    (patient_note,) = [note for note in level.notes_for_patient if note.startswith("Starts ")]
    assert patient_note == "Starts Tue 3 Mar"
    assert [n for n in level.notes_for_patient if n != patient_note] == [n for n in level.notes if n != staff_note]


def test_a_later_first_day_keeps_the_closure_the_patient_may_read():
    # Monday closed (read without its reason, as for a patient), Tuesday heavy, Wednesday empty:
    # earliest starts Tuesday; level on Wednesday. The patient reads that Monday is closed.
    monday, wednesday = TUESDAY - dt.timedelta(days=1), TUESDAY + dt.timedelta(days=1)
    snapshot = replace(
        site(chairs=_busy_all_day(TUESDAY, 2)),
        closures=((Span(at(monday, "00:00"), at(TUESDAY, "00:00")), ""),),
    )
    rule = InductionRule(session_length=SESSION, min_gap=48 * 60 * MINUTE, route="iv", sessions=3, window_days=10)
    level = propose_induction_placed(
        Placer(Availability(snapshot), Placement(policy=LEVEL)), rule, monday, Preferences()
    )
    assert isinstance(level, Proposal)
    assert level.slots[0].start.astimezone(ZONE).date() == wednesday
    (staff_note,) = [note for note in level.notes if note.startswith("Starts ")]
    (patient_note,) = [note for note in level.notes_for_patient if note.startswith("Starts ")]
    assert staff_note.startswith(f"{patient_note}; ") and "booked" in staff_note
    assert patient_note.startswith("Starts Wed 4 Mar; Mon 2 Mar: ") and "booked" not in patient_note


def test_a_searchs_suggestion_on_a_later_day_says_that_day_is_the_quietest_searched():
    # The desk searches from the day the patient is due (Tuesday, two thirds booked) to Wednesday (empty):
    # level suggests Wednesday, and says why the due day was passed over. A one-day search says nothing
    # of days.
    wednesday = TUESDAY + dt.timedelta(days=1)
    snapshot = site(chairs={1: [booked(TUESDAY, "10:00", 480)], 2: []})
    availability = Availability(snapshot)
    placer = Placer(availability, Placement(policy=LEVEL))
    two_days = [s for day in (TUESDAY, wednesday) for s in availability.free_slots(day, SESSION, "iv")]

    best = placer.rank(two_days)[0]

    assert best.slot.start.astimezone(ZONE).date() == wednesday
    assert "the quietest day searched (0% of chair time booked)" in str(best.reason)
    one_day = placer.rank([s for s in two_days if s.start.astimezone(ZONE).date() == TUESDAY])[0]
    assert "day searched" not in str(one_day.reason) and "chair time booked" not in str(one_day.reason)
