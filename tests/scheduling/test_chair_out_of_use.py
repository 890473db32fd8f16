"""A chair out of use for a while (a pump broken for two days, a chair being replaced): a closure
that names a chair closes that chair alone. Nothing is proposed, booked, moved or offered in it
over the period, the other chairs stay bookable, a booking into it is refused naming the chair and
the reason, and the sessions already in it are listed to move. Read with the site's closures, in
the same query."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic.models import Closure, Role
from scheduling import services
from scheduling.errors import BookingConflict
from scheduling.selectors import TO_MOVE_HORIZON, sessions_to_move, site_snapshot
from scheduling.services import appointment_book, appointment_move
from scheduling.services.core import problem_reason
from scheduling.services.slot_finder import find_free_slots
from tests.factories import ChairFactory, PatientFactory, SiteFactory, StaffFactory
from tests.scheduling.conftest import NOW, START, add_shifts, at_new_york, make_clinic, start_plus

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
TUESDAY = start_plus(1)


def _out_of_use(chair, starts_at, ends_at, reason="Pump broken") -> Closure:
    return Closure.objects.create(site=chair.site, chair=chair, starts_at=starts_at, ends_at=ends_at, reason=reason)


# --- The model ----------------------------------------------------------------------------


def test_a_chair_closure_needs_the_chairs_own_site():
    chair = ChairFactory()
    other = SiteFactory()
    period = {"starts_at": at_new_york(TUESDAY, 8), "ends_at": at_new_york(TUESDAY, 18), "reason": "Pump"}
    with pytest.raises(ValidationError) as caught:
        Closure(site=None, chair=chair, **period).full_clean()
    assert "site" in caught.value.message_dict
    assert "a chair" in " ".join(caught.value.message_dict["site"])
    with pytest.raises(ValidationError) as caught:
        Closure(site=other, chair=chair, **period).full_clean()
    assert "chair" in caught.value.message_dict
    assert chair.name in " ".join(caught.value.message_dict["chair"])
    Closure(site=chair.site, chair=chair, **period).full_clean()


def test_the_database_refuses_a_chair_closure_without_a_site():
    chair = ChairFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Closure.objects.create(
            site=None, chair=chair, starts_at=at_new_york(TUESDAY, 8), ends_at=at_new_york(TUESDAY, 9), reason="x"
        )


def test_a_chair_with_out_of_use_periods_is_not_moved_to_another_site():
    chair = ChairFactory()
    _out_of_use(chair, at_new_york(TUESDAY, 8), at_new_york(TUESDAY, 18))
    chair.site = SiteFactory()
    with pytest.raises(ValidationError) as caught:
        chair.full_clean()
    assert "site" in caught.value.message_dict


# --- Booking, moving, proposing ---------------------------------------------------------


def test_booking_into_the_chair_in_the_period_is_refused_naming_the_chair_and_reason():
    clinic = make_clinic()
    chair = clinic.chairs[0]
    _out_of_use(chair, at_new_york(TUESDAY, 8), at_new_york(TUESDAY, 13), reason="IV pump broken")
    plan = clinic.plan()
    with pytest.raises(BookingConflict) as caught:
        appointment_book(
            patient=plan.patient,
            plan=plan,
            site=clinic.site,
            starts_at=at_new_york(TUESDAY, 12),
            chair=chair,
            actor=clinic.front_desk.user,
            now=NOW,
        )
    assert caught.value.details["reason"] == "chair_out_of_use"
    assert "Chair 1" in caught.value.message and "IV pump broken" in caught.value.message
    # The same time in another chair, and the chair itself once the period is over, are bookable.
    booked = appointment_book(
        patient=plan.patient,
        plan=plan,
        site=clinic.site,
        starts_at=at_new_york(TUESDAY, 12),
        chair=clinic.chairs[1],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    assert booked.chair_id == clinic.chairs[1].pk
    after = clinic.plan()
    assert (
        appointment_book(
            patient=after.patient,
            plan=after,
            site=clinic.site,
            starts_at=at_new_york(TUESDAY, 13),
            chair=chair,
            actor=clinic.front_desk.user,
            now=NOW,
        ).chair_id
        == chair.pk
    )


def test_a_booking_without_a_chair_named_goes_to_another_chair():
    clinic = make_clinic(chairs=2)
    _out_of_use(clinic.chairs[0], at_new_york(TUESDAY, 0), at_new_york(TUESDAY, 23))
    plan = clinic.plan()
    booked = appointment_book(
        patient=plan.patient,
        plan=plan,
        site=clinic.site,
        starts_at=at_new_york(TUESDAY, 10),
        actor=clinic.front_desk.user,
        now=NOW,
    )
    assert booked.chair_id == clinic.chairs[1].pk


def test_the_only_chair_out_of_use_refuses_a_booking_with_its_reason():
    clinic = make_clinic(chairs=1)
    _out_of_use(clinic.chairs[0], at_new_york(TUESDAY, 0), at_new_york(TUESDAY, 23), reason="Being replaced")
    plan = clinic.plan()
    with pytest.raises(BookingConflict) as caught:
        appointment_book(
            patient=plan.patient,
            plan=plan,
            site=clinic.site,
            starts_at=at_new_york(TUESDAY, 10),
            actor=clinic.front_desk.user,
            now=NOW,
        )
    assert caught.value.details["reason"] == "chair_out_of_use"
    assert "Being replaced" in caught.value.message


def test_a_session_is_not_moved_into_the_chair_in_the_period():
    clinic = make_clinic()
    (session,) = clinic.book(clinic.plan(), [at_new_york(start_plus(2), 10)])
    _out_of_use(clinic.chairs[1], at_new_york(TUESDAY, 0), at_new_york(TUESDAY, 23))
    with pytest.raises(BookingConflict) as caught:
        appointment_move(
            appointment=session,
            starts_at=at_new_york(TUESDAY, 10),
            chair=clinic.chairs[1],
            actor=clinic.front_desk.user,
            now=NOW,
        )
    assert caught.value.details["reason"] == "chair_out_of_use"


def test_a_proposed_course_skips_the_chair_and_uses_the_others():
    clinic = make_clinic(chairs=2)
    first, second = clinic.chairs
    # Out of use the whole first week of the course.
    _out_of_use(first, at_new_york(START, 0), at_new_york(start_plus(7), 0))
    proposal = services.course_propose(plan=clinic.plan(), start_date=START, now=NOW)
    first_week = [s for s in proposal.sessions if s.starts_at < at_new_york(start_plus(7), 0)]
    assert first_week, "the other chair stays bookable"
    assert {s.chair_id for s in first_week} == {second.pk}
    assert proposal.sessions[0].starts_at.astimezone(NY).date() == START


def test_free_slots_offer_no_start_in_the_chair_during_the_period():
    clinic = make_clinic(chairs=2)
    first, second = clinic.chairs
    _out_of_use(first, at_new_york(TUESDAY, 8), at_new_york(TUESDAY, 13))
    plan = clinic.plan()
    (day,) = find_free_slots(
        site=clinic.site,
        patient=plan.patient,
        first_day=TUESDAY,
        last_day=TUESDAY,
        duration=dt.timedelta(hours=2),
        route="iv",
        now=NOW,
    )
    in_first = [c.slot for c in day.choices if c.slot.chair_id == first.pk]
    assert in_first and all(slot.start >= at_new_york(TUESDAY, 13) for slot in in_first)
    assert any(c.slot.chair_id == second.pk and c.slot.start == at_new_york(TUESDAY, 8) for c in day.choices)
    # Only that chair asked for: the reason names it.
    (only,) = find_free_slots(
        site=clinic.site,
        patient=plan.patient,
        first_day=TUESDAY,
        last_day=TUESDAY,
        duration=dt.timedelta(hours=2),
        route="iv",
        now=NOW,
        chair_ids=[first.pk],
    )
    assert all(c.slot.start >= at_new_york(TUESDAY, 13) for c in only.choices)


def test_a_day_the_only_chair_is_out_of_use_says_why():
    clinic = make_clinic(chairs=1)
    _out_of_use(clinic.chairs[0], at_new_york(TUESDAY, 0), at_new_york(TUESDAY, 23), reason="Being replaced")
    plan = clinic.plan()
    (day,) = find_free_slots(
        site=clinic.site,
        patient=plan.patient,
        first_day=TUESDAY,
        last_day=TUESDAY,
        duration=dt.timedelta(hours=2),
        route="iv",
        now=NOW,
    )
    assert day.choices == []
    assert day.reason == "the chair is out of use (Chair 1: Being replaced)"


# --- Sessions already in it -----------------------------------------------------------------


def test_a_session_already_in_the_chair_is_listed_to_move_and_others_are_not():
    clinic = make_clinic()
    (in_chair,) = clinic.book(clinic.plan(), [at_new_york(TUESDAY, 10)])
    other = clinic.plan()
    elsewhere = appointment_book(
        patient=other.patient,
        plan=other,
        site=clinic.site,
        starts_at=at_new_york(TUESDAY, 12),
        chair=clinic.chairs[1],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    _out_of_use(clinic.chairs[0], at_new_york(TUESDAY, 11), at_new_york(TUESDAY, 15), reason="Pump broken")
    found = sessions_to_move(site=clinic.site, now=NOW, until=NOW + TO_MOVE_HORIZON)
    assert [(e.appointment.pk, problem_reason(e.problem), e.problem) for e in found] == [
        (in_chair.pk, "chair_out_of_use", "the chair is out of use (Chair 1: Pump broken)")
    ]
    assert elsewhere.pk not in {e.appointment.pk for e in found}


# --- A period over the autumn clock change ----------------------------------------------


def test_a_period_over_the_autumn_clock_change_closes_the_chair_to_its_local_end():
    # Sunday 1 November 2026 the clocks in New York go back at 02:00: the day is 25 hours long.
    sunday = dt.date(2026, 11, 1)
    site = SiteFactory(hours={d: (dt.time(8), dt.time(18)) for d in range(7)})
    first = ChairFactory(site=site, name="Chair 1")
    second = ChairFactory(site=site, name="Chair 2")
    add_shifts(StaffFactory(role=Role.NURSE, sites=[site]), site, sunday - dt.timedelta(days=3), 6)
    # From Saturday 12:00 (EDT) to Sunday 14:00 (EST), spanning the repeated hour.
    starts_at = dt.datetime(2026, 10, 31, 12, tzinfo=NY)
    ends_at = dt.datetime(2026, 11, 1, 14, tzinfo=NY)
    assert ends_at.astimezone(dt.UTC) - starts_at.astimezone(dt.UTC) == dt.timedelta(hours=27)
    _out_of_use(first, starts_at, ends_at, reason="Chair being replaced")
    patient = PatientFactory(home_site=site)
    (day,) = find_free_slots(
        site=site,
        patient=patient,
        first_day=sunday,
        last_day=sunday,
        duration=dt.timedelta(hours=1),
        route="iv",
        now=dt.datetime(2026, 10, 20, tzinfo=dt.UTC),
    )
    in_first = sorted(c.slot.start for c in day.choices if c.slot.chair_id == first.pk)
    assert in_first[0] == ends_at  # 14:00 on the site's clock, after the clocks went back
    in_second = sorted(c.slot.start for c in day.choices if c.slot.chair_id == second.pk)
    assert in_second[0] == dt.datetime(2026, 11, 1, 8, tzinfo=NY)  # the other chair, from opening
    # Booked there the hour before the end, refused; at the end, taken.
    with pytest.raises(BookingConflict):
        appointment_book(
            patient=patient,
            site=site,
            starts_at=dt.datetime(2026, 11, 1, 13, tzinfo=NY),
            chair=first,
            actor=None,
            now=dt.datetime(2026, 10, 20, tzinfo=dt.UTC),
            duration=dt.timedelta(hours=1),
        )
    booked = appointment_book(
        patient=patient,
        site=site,
        starts_at=ends_at,
        chair=first,
        actor=None,
        now=dt.datetime(2026, 10, 20, tzinfo=dt.UTC),
        duration=dt.timedelta(hours=1),
    )
    assert booked.starts_at == ends_at


# --- Reads --------------------------------------------------------------------------------


def test_chair_closures_come_in_the_snapshots_one_query():
    clinic = make_clinic(chairs=3)
    window = (at_new_york(TUESDAY, 0), at_new_york(TUESDAY, 23))
    site_snapshot(site=clinic.site, start=window[0], end=window[1], chairs=clinic.chairs)  # its statement prepared
    with CaptureQueriesContext(connection) as before:
        site_snapshot(site=clinic.site, start=window[0], end=window[1], chairs=clinic.chairs)
    for chair in clinic.chairs:
        _out_of_use(chair, at_new_york(TUESDAY, 8), at_new_york(TUESDAY, 9), reason=f"Check {chair.name}")
    Closure.objects.create(site=clinic.site, starts_at=at_new_york(TUESDAY, 17), ends_at=window[1], reason="Early")
    with CaptureQueriesContext(connection) as after:
        snapshot = site_snapshot(site=clinic.site, start=window[0], end=window[1], chairs=clinic.chairs)
    assert len(after.captured_queries) == len(before.captured_queries)
    # The site's closure closes the site; the chairs' close their chair alone.
    assert [why for _, why in snapshot.closures] == ["Early"]
    assert {chair.name: [why for _, why in chair.out_of_use] for chair in snapshot.chairs} == {
        c.name: [f"Check {c.name}"] for c in clinic.chairs
    }
