"""A closure read without its reason (a patient's free times: the reason is free text the clinic's
administrators type, for staff) still closes the site or the chair: the engine refuses the time and
says "the site is closed" or "the chair is out of use (Chair 1)", without empty brackets. Staff's
reads keep the reasons.

The clock is fixed by the callers' `now` (NOW: Friday 27 February 2026, 15:00 UTC)."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Closure
from scheduling.engine import Availability, Slot
from scheduling.engine.availability import site_problem
from scheduling.errors import BookingConflict
from scheduling.selectors import booking_snapshot, site_snapshot
from scheduling.services import appointment_book
from tests.scheduling.conftest import NOW, at_new_york, make_clinic, start_plus

pytestmark = pytest.mark.django_db

TUESDAY = start_plus(1)
SITE_REASON = "Nurse Kim on sick leave"
CHAIR_REASON = "Pump broken"


def _closed_tuesday(clinic, *, chair=None, reason: str) -> Closure:
    return Closure.objects.create(
        site=clinic.site,
        chair=chair,
        starts_at=at_new_york(TUESDAY, 0),
        ends_at=at_new_york(start_plus(2), 0),
        reason=reason,
    )


def _tuesday_snapshot(clinic, *, closure_reasons: bool = True):
    return booking_snapshot(
        site=clinic.site,
        start=at_new_york(TUESDAY, 0),
        end=at_new_york(start_plus(2), 0),
        now=NOW,
        closure_reasons=closure_reasons,
    )


def _ten_oclock(clinic, chair) -> Slot:
    start = at_new_york(TUESDAY, 10)
    return Slot(start, start + dt.timedelta(minutes=clinic.protocol.session_minutes), chair.pk, clinic.nurses[0].pk)


def test_a_site_closure_read_without_its_reason_still_closes_the_site():
    clinic = make_clinic(chairs=1)
    _closed_tuesday(clinic, reason=SITE_REASON)
    snapshot, busy = _tuesday_snapshot(clinic, closure_reasons=False)
    assert [reason for _, reason in snapshot.closures] == [""]
    slot = _ten_oclock(clinic, clinic.chairs[0])
    assert site_problem(snapshot, slot, route=clinic.protocol.route) == "the site is closed"
    day = Availability(snapshot, busy).day_slots(
        TUESDAY, dt.timedelta(minutes=clinic.protocol.session_minutes), clinic.protocol.route
    )
    assert day.slots == ()
    assert day.reason == "the site is closed"


def test_a_chair_closure_read_without_its_reason_still_takes_the_chair_out_of_use():
    clinic = make_clinic(chairs=1)
    chair = clinic.chairs[0]
    _closed_tuesday(clinic, chair=chair, reason=CHAIR_REASON)
    snapshot, busy = _tuesday_snapshot(clinic, closure_reasons=False)
    assert [reason for _, reason in snapshot.chairs[0].out_of_use] == [""]
    slot = _ten_oclock(clinic, chair)
    assert site_problem(snapshot, slot, route=clinic.protocol.route) == "the chair is out of use (Chair 1)"
    day = Availability(snapshot, busy).day_slots(
        TUESDAY, dt.timedelta(minutes=clinic.protocol.session_minutes), clinic.protocol.route
    )
    assert day.slots == ()
    assert day.reason == "the chair is out of use (Chair 1)"


def test_staff_reads_keep_the_closures_reasons():
    clinic = make_clinic(chairs=2)
    _closed_tuesday(clinic, reason=SITE_REASON)
    _closed_tuesday(clinic, chair=clinic.chairs[0], reason=CHAIR_REASON)
    snapshot, _ = _tuesday_snapshot(clinic)
    assert [reason for _, reason in snapshot.closures] == [SITE_REASON]
    assert [reason for _, reason in snapshot.chairs[0].out_of_use] == [CHAIR_REASON]
    slot = _ten_oclock(clinic, clinic.chairs[1])
    assert site_problem(snapshot, slot, route=clinic.protocol.route) == f"the site is closed ({SITE_REASON})"
    plain = site_snapshot(
        site=clinic.site, start=at_new_york(TUESDAY, 0), end=at_new_york(start_plus(2), 0), closure_reasons=False
    )
    assert [reason for _, reason in plain.closures] == [""]


def test_a_closure_with_an_empty_reason_still_refuses_a_booking():
    """An empty reason is no open site: the site's own check counts the closure, not its words."""
    clinic = make_clinic(chairs=1)
    _closed_tuesday(clinic, reason="")
    plan = clinic.plan()
    with pytest.raises(BookingConflict) as caught:
        appointment_book(
            patient=plan.patient,
            plan=plan,
            site=clinic.site,
            starts_at=at_new_york(TUESDAY, 10),
            chair=clinic.chairs[0],
            actor=clinic.front_desk.user,
            now=NOW,
        )
    assert caught.value.details["reason"] == "site_closed"
    assert caught.value.message.endswith(": the site is closed."), caught.value.message
