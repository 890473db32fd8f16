"""A whole course found through Appointment/$find keeps inside the Timing's boundsPeriod under
either placement policy: level placement may move a session to a quieter, later day, but never
past the bound when the earliest course ends inside it (level never finds fewer courses)."""

from __future__ import annotations

import datetime as dt

import pytest

from interop.fhir.finding import course_times
from interop.fhir.timing import TimingWish
from scheduling import services
from scheduling.errors import CourseDoesNotFit
from tests.factories import PatientFactory, ProtocolFactory
from tests.scheduling.conftest import NOW, START, at_new_york, make_clinic

MONDAY = START  # Mon 2 Mar 2026
WEDNESDAY = START + dt.timedelta(days=2)


def _busy_wednesday_afternoon(clinic) -> None:
    # Another patient fills Wednesday afternoon in both chairs: Wednesday is still free at 08:00,
    # but Thursday (empty) is the quieter day, so level moves a Wednesday session there if it may.
    for chair in clinic.chairs:
        services.appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=at_new_york(WEDNESDAY, 13),
            chair=chair,
            actor=None,
            now=NOW,
        )


@pytest.mark.parametrize("policy", ["earliest", "level"])
@pytest.mark.parametrize("with_plan", [False, True], ids=["protocol", "plan"])
def test_a_course_whose_earliest_layout_ends_inside_the_bounds_is_found_under_both_policies(db, policy, with_plan):
    clinic = make_clinic(chairs=2, nurses=2, placement_policy=policy)
    # Two sessions within 7 days, 48 hours apart: from Monday the earliest course is Mon + Wed.
    protocol = ProtocolFactory(name="Two in a week", induction_sessions=2, induction_window_days=7, min_gap_hours=48)
    _busy_wednesday_afternoon(clinic)
    patient = PatientFactory(home_site=clinic.site)
    plan = clinic.plan(patient=patient, protocol=protocol) if with_plan else None
    # boundsPeriod ends with Wednesday: the earliest course ends inside it.
    wish = TimingWish(last_day=WEDNESDAY).at(clinic.site.zone)
    try:
        found = course_times(
            site=clinic.site,
            start=at_new_york(MONDAY, 0),
            protocol=protocol,
            patient=patient,
            plan=plan,
            now=NOW,
            wish=wish,
        )
    except CourseDoesNotFit as refused:
        pytest.fail(f"{policy}: no course offered although Mon + Wed fits the bounds: {refused.message}")
    assert wish.not_after is not None
    assert len(found.sessions) == 2
    assert all(session.end <= wish.not_after for session in found.sessions), [s.start for s in found.sessions]
