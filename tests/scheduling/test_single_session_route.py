"""A session booked without a plan keeps the route it was booked for: moving it, the desk's finder
and a waitlist offer look for a chair equipped for that route, not for an infusion's."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Route
from scheduling import services
from scheduling.errors import SchedulingError
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, START, at_new_york

pytestmark = pytest.mark.django_db


def test_a_single_nasal_session_moved_without_a_chair_stays_in_a_chair_equipped_for_it(clinic):
    nasal_chair, iv_chair = clinic.chairs[0], clinic.chairs[1]
    for chair in clinic.chairs:
        chair.equipment = [Route.INTRANASAL] if chair == nasal_chair else [Route.IV]
        chair.save(update_fields=["equipment"])
    patient = PatientFactory(home_site=clinic.site)
    booked = services.appointment_book(
        patient=patient,
        site=clinic.site,
        starts_at=at_new_york(START + dt.timedelta(days=1), 9),
        route=Route.INTRANASAL,
        actor=clinic.front_desk.user,
        now=NOW,
    )
    assert booked.chair_id == nasal_chair.pk and booked.route == Route.INTRANASAL
    assert booked.session_route == Route.INTRANASAL

    moved = services.appointment_move(
        appointment=booked,
        starts_at=at_new_york(START + dt.timedelta(days=2), 9),
        actor=clinic.front_desk.user,
        now=NOW,
    )
    assert moved.chair_id == nasal_chair.pk
    assert iv_chair.pk != moved.chair_id


def test_a_plan_session_takes_its_route_from_the_protocol(clinic):
    plan = clinic.plan()
    [session, *_] = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    assert session.route == "" and session.session_route == plan.protocol.route


def test_a_one_off_booked_in_a_chair_equipped_for_spray_and_infusion_stays_an_infusion(clinic):
    """A one-off booked without a route in a chair equipped for nasal spray and infusions is an
    infusion (the chair's first route is not a guess of it): moved, it goes to an infusion chair."""
    dual, iv_a, iv_b = clinic.chairs
    dual.equipment = [Route.INTRANASAL, Route.IV]
    dual.save(update_fields=["equipment"])
    for chair in (iv_a, iv_b):
        chair.equipment = [Route.IV]
        chair.save(update_fields=["equipment"])
    patient = PatientFactory(home_site=clinic.site)
    booked = services.appointment_book(
        patient=patient,
        site=clinic.site,
        starts_at=at_new_york(START + dt.timedelta(days=1), 9),
        chair=dual,
        actor=clinic.front_desk.user,
        now=NOW,
    )
    # Another patient takes the dual chair on the day the session is moved to.
    other_day = at_new_york(START + dt.timedelta(days=2), 9)
    services.appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=other_day,
        chair=dual,
        actor=clinic.front_desk.user,
        now=NOW,
    )
    try:
        # An hour later: the nurse is free of that patient's setup and check; the dual chair is still taken.
        moved = services.appointment_move(
            appointment=booked, starts_at=other_day + dt.timedelta(hours=1), actor=clinic.front_desk.user, now=NOW
        )
    except SchedulingError as exc:
        pytest.fail(f"move refused ({exc.message}); the session was stored as route {booked.route!r}")
    assert moved.chair_id in (iv_a.pk, iv_b.pk)
    assert moved.session_route == Route.IV
