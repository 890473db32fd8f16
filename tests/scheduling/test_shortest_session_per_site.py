""" "The shortest session" a chair gap is measured against is the site's: among the active protocols
whose route one of the site's active chairs is equipped for (a session is booked only in a chair
equipped for its route). A 60-minute nasal spray protocol does not make an IV-only site's board
offer 60-minute gaps, nor its level placement count 100-minute leftovers as usable. A site with no
chair equipped for any active protocol falls back to the clinic's shortest active protocol."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import Route
from scheduling.selectors import shortest_session_minutes, site_placement
from tests.factories import ChairFactory, ProtocolFactory
from tests.scheduling.conftest import NOW, START, Clinic, at_new_york, make_clinic
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def nasal_spray(db):
    """A clinic-wide protocol shorter than the IV one (ProtocolFactory's, 120 minutes)."""
    return ProtocolFactory(name="Esketamine nasal spray", route=Route.INTRANASAL, session_minutes=60)


def _clinic(*equipment: list[str]) -> Clinic:
    """A level site whose chairs are equipped as given, one chair per list."""
    clinic = make_clinic(chairs=len(equipment), nurses=2, placement_policy="level")
    for chair, routes in zip(clinic.chairs, equipment, strict=True):
        chair.equipment = routes
        chair.save(update_fields=["equipment"])
    return clinic


def _shortest_placed(clinic: Clinic) -> int | None:
    shortest = site_placement(clinic.site).shortest_session
    return int(shortest.total_seconds() // 60) if shortest else None


def test_an_iv_only_site_ignores_a_shorter_nasal_spray_protocol(nasal_spray):
    iv_only = _clinic([Route.IV], [Route.IV])

    assert shortest_session_minutes(site=iv_only.site) == 120
    assert _shortest_placed(iv_only) == 120


def test_a_site_with_a_nasal_spray_chair_measures_gaps_by_the_nasal_spray(nasal_spray):
    with_spray = _clinic([Route.IV], [Route.IV, Route.INTRANASAL])

    assert shortest_session_minutes(site=with_spray.site) == 60
    assert _shortest_placed(with_spray) == 60


def test_retired_chairs_and_retired_protocols_do_not_count(nasal_spray):
    clinic = _clinic([Route.IV])
    ChairFactory(site=clinic.site, name="Retired spray chair", equipment=[Route.INTRANASAL], active=False)
    ProtocolFactory(name="Retired IV, one hour", route=Route.IV, session_minutes=60, active=False)

    assert shortest_session_minutes(site=clinic.site) == 120
    assert _shortest_placed(clinic) == 120


def test_another_sites_nasal_spray_chair_does_not_count(nasal_spray):
    iv_only = _clinic([Route.IV])
    ChairFactory(equipment=[Route.INTRANASAL])  # at a site of its own

    assert shortest_session_minutes(site=iv_only.site) == 120
    assert _shortest_placed(iv_only) == 120


def test_a_site_whose_chairs_take_no_active_protocol_falls_back_to_the_clinics_shortest(nasal_spray):
    oral_only = _clinic([Route.ORAL])

    assert shortest_session_minutes(site=oral_only.site) == 60
    assert _shortest_placed(oral_only) == 60


def _board_gap_starts(client, clinic: Clinic, day: dt.date) -> list[dt.time]:
    """The local starts of the free gaps the day board offers in the site's first chair."""
    with time_machine.travel(NOW, tick=False):
        login(client, clinic.front_desk.user)
        response = client.get(reverse("web:board"), {"day": day.isoformat()})
    assert response.status_code == 200
    lane = next(lane for lane in response.context["grid"].lanes if lane.obj.pk == clinic.chairs[0].pk)
    return [item.starts_at.time() for item in lane.items if item.kind == "gap"]


@pytest.mark.parametrize(
    ("second_chair", "hole_offered"),
    [([Route.IV], False), ([Route.IV, Route.INTRANASAL], True)],
    ids=["iv-only site", "site with a nasal spray chair"],
)
def test_the_board_offers_a_100_minute_hole_only_where_a_session_that_short_can_be_given(
    client, nasal_spray, second_chair, hole_offered
):
    """The first chair holds IV sessions 08:00-10:00 and 11:40-13:40: the 100 minutes between them
    fit a nasal spray session only, so the board offers them only at a site that gives one."""
    clinic = _clinic([Route.IV], second_chair)
    for starts_at in (at_new_york(START, 8), at_new_york(START, 8) + dt.timedelta(minutes=220)):
        clinic.book(clinic.plan(), [starts_at])

    starts = _board_gap_starts(client, clinic, START)

    assert (dt.time(10) in starts) is hole_offered, starts
    assert dt.time(13, 45) in starts, starts  # the afternoon is free either way (from the next quarter hour)
