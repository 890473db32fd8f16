"""The board's and the sessions-to-move list's "Course short" words for courses booked at another
site (web.scope.mark_make_up_elsewhere) cost the same few queries however many such courses are
listed: each course's site comes from one read of all their rounds (courses.induction_sites), which
agrees with the one-plan rule (courses.induction_site) on every plan."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Role, StaffMember
from scheduling.models import Appointment, AppointmentStatus, Phase
from scheduling.services.courses import induction_site, induction_sites
from tests.factories import AppointmentFactory, ChairFactory, PlanFactory, SiteFactory, StaffFactory
from web.scope import course_elsewhere, mark_make_up_elsewhere

pytestmark = pytest.mark.django_db

MONDAY = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)


@pytest.fixture
def sites():
    home, east = SiteFactory(name="Home"), SiteFactory(name="East Side")
    return home, east, ChairFactory(site=home), ChairFactory(site=east)


def _session(plan, chair, days: int, status=AppointmentStatus.BOOKED) -> Appointment:
    return AppointmentFactory(
        patient=plan.patient,
        plan=plan,
        chair=chair,
        starts_at=MONDAY + dt.timedelta(days=days),
        phase=Phase.INDUCTION,
        induction_round=plan.induction_round,
        status=status,
        cancelled_at=MONDAY if status == AppointmentStatus.CANCELLED else None,
    )


def _course_at_east(sites, n: int) -> list[Appointment]:
    """`n` short courses of Home's plans, booked at East Side; the last session of each (at Home)
    cancelled, so the latest session that stands (East Side's) decides where the course is."""
    home, east, _home_chair, _east_chair = sites
    shown = []
    for _ in range(n):
        plan = PlanFactory(patient__home_site=home)
        home_chair, east_chair = ChairFactory(site=home), ChairFactory(site=east)  # one patient each
        shown.append(_session(plan, east_chair, 0))
        _session(plan, east_chair, 2)
        _session(plan, home_chair, 4, status=AppointmentStatus.CANCELLED)
    return shown


def _marked(rows: list[Appointment], staff: StaffMember) -> tuple[list[str], int]:
    loaded = Appointment.objects.select_related("plan").in_bulk([a.pk for a in rows])
    rows = [loaded[a.pk] for a in rows]  # in the order given
    for row in rows:
        row.course_short = 1  # as web.common.mark_plan_attention marks a short course's session
    staff = StaffMember.objects.get(pk=staff.pk)  # its sites not read yet, as on a new request
    with CaptureQueriesContext(connection) as queries:
        mark_make_up_elsewhere(rows, staff)
    return [row.make_up_elsewhere for row in rows], len(queries)


def test_the_words_for_short_courses_elsewhere_cost_the_same_queries_for_one_course_or_five(sites):
    home, east, home_chair, _east_chair = sites
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[home])
    at_home = PlanFactory(patient__home_site=home)
    home_row = _session(at_home, home_chair, 1)

    said_one, one = _marked([*_course_at_east(sites, 1), home_row], desk)
    said_five, five = _marked([*_course_at_east(sites, 5), home_row], desk)

    assert said_one == [course_elsewhere(east), ""]
    assert said_five == [course_elsewhere(east)] * 5 + [""]
    assert five == one <= 3, (one, five)


def test_a_desk_of_the_courses_site_is_told_nothing(sites):
    _home, east, _home_chair, _east_chair = sites
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[east])
    said, _ = _marked(_course_at_east(sites, 2), desk)
    assert said == ["", ""]


def test_induction_sites_agrees_with_induction_site_for_each_plan_in_one_query(sites):
    home, east, home_chair, east_chair = sites
    plans = [row.plan for row in _course_at_east(sites, 2)]
    nothing_booked = PlanFactory(patient__home_site=home)
    all_cancelled = PlanFactory(patient__home_site=home)
    _session(all_cancelled, home_chair, 1, status=AppointmentStatus.CANCELLED)
    _session(all_cancelled, east_chair, 3, status=AppointmentStatus.CANCELLED)  # the latest, none stands
    plans += [nothing_booked, all_cancelled]
    plans = list(type(nothing_booked).objects.filter(pk__in=[p.pk for p in plans]).select_related("site"))

    with CaptureQueriesContext(connection) as queries:
        found = induction_sites(plans)

    assert len(queries) == 1
    assert found == {plan.pk: induction_site(plan) for plan in plans}
    assert [found[p.pk] for p in plans if p.pk not in (nothing_booked.pk, all_cancelled.pk)] == [east, east]
    assert found[nothing_booked.pk] == home and found[all_cancelled.pk] == east


def test_two_sessions_at_one_time_give_the_same_site_both_ways_and_unbooked_plans_one_query(sites):
    home, east, home_chair, east_chair = sites
    tied = PlanFactory(patient__home_site=home)
    _session(tied, home_chair, 1, status=AppointmentStatus.CANCELLED)
    _session(tied, east_chair, 1, status=AppointmentStatus.CANCELLED)  # the same time, booked later
    unbooked = [PlanFactory(patient__home_site=home) for _ in range(3)]
    plans = list(type(tied).objects.filter(pk__in=[tied.pk, *(p.pk for p in unbooked)]))  # sites not loaded

    with CaptureQueriesContext(connection) as queries:
        found = induction_sites(plans)

    assert len(queries) == 2  # the rounds' sessions, and the sites of the plans with none
    assert found == {plan.pk: induction_site(plan) for plan in plans}
    assert found[tied.pk] == east and all(found[p.pk] == home for p in unbooked)
