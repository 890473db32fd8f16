""" "The shortest session" a chair gap is measured against: each chair's own, among the active
protocols whose route that chair is equipped for (a session is booked only in a chair equipped for
its route), both for the level placement and for the board. So an IV-only chair is neither offered a
hole only a nasal spray session would fit, nor placed into as if such a hole were of use, because
the chair beside it takes nasal spray; a chair equipped for no active protocol's route has no
minimum (no session of an active protocol can use a gap there): the board offers no gap in it and
placement counts none against it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import Route
from scheduling.errors import SchedulingError
from scheduling.selectors import shortest_session_minutes_by_chair, site_placement
from scheduling.services import appointment_book
from tests.factories import ChairFactory, PatientFactory, ProtocolFactory
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


def _shortest_placed(clinic: Clinic) -> list[int | None] | None:
    """The minutes placement measures each of the site's chairs' gaps by (in the clinic's chair
    order; None for a chair with no minimum), or None when it knows no protocol at all."""
    shortest = site_placement(clinic.site).shortest_sessions
    if shortest is None:
        return None
    return [int(shortest[chair.pk].total_seconds() // 60) if chair.pk in shortest else None for chair in clinic.chairs]


def _book_iv(clinic: Clinic, chair: int, *starts: dt.datetime) -> None:
    """A two-hour IV session at each of `starts` in the chair at index `chair`, each for a patient of its own."""
    for starts_at in starts:
        plan = clinic.plan()
        appointment_book(
            patient=plan.patient,
            plan=plan,
            site=clinic.site,
            starts_at=starts_at,
            chair=clinic.chairs[chair],
            actor=clinic.front_desk.user,
            now=NOW,
        )


def test_an_iv_only_site_ignores_a_shorter_nasal_spray_protocol(nasal_spray):
    iv_only = _clinic([Route.IV], [Route.IV])

    assert _shortest_placed(iv_only) == [120, 120]


def test_placement_measures_each_chair_by_the_shortest_protocol_it_is_equipped_for(nasal_spray):
    with_spray = _clinic([Route.IV], [Route.IV, Route.INTRANASAL])

    assert _shortest_placed(with_spray) == [120, 60]


def test_retired_chairs_and_retired_protocols_do_not_count(nasal_spray):
    clinic = _clinic([Route.IV])
    ChairFactory(site=clinic.site, name="Retired spray chair", equipment=[Route.INTRANASAL], active=False)
    ProtocolFactory(name="Retired IV, one hour", route=Route.IV, session_minutes=60, active=False)

    assert _shortest_placed(clinic) == [120]


def test_another_sites_nasal_spray_chair_does_not_count(nasal_spray):
    iv_only = _clinic([Route.IV])
    ChairFactory(equipment=[Route.INTRANASAL])  # at a site of its own

    assert _shortest_placed(iv_only) == [120]


def test_a_chair_that_takes_no_active_protocol_has_no_minimum_for_placement(nasal_spray):
    clinic = _clinic([Route.IV], [Route.ORAL])

    assert _shortest_placed(clinic) == [120, None]


def test_without_any_active_protocol_placement_knows_no_minimum(db):
    clinic = _clinic([Route.IV])
    clinic.protocol.active = False
    clinic.protocol.save(update_fields=["active"])

    assert _shortest_placed(clinic) is None


def test_a_level_booking_measures_each_chairs_gaps_by_the_shortest_session_that_chair_takes(nasal_spray):
    """An IV session from 08:00 to 10:00. In the IV-only chair (busy from 11:30) it would leave 90
    minutes that no protocol the chair takes fits (IV, 120 minutes); in the chair beside it, which
    also takes nasal spray (busy from 11:00, and again at 14:00), it leaves 60 minutes, a nasal spray
    session. Measured by the site's shortest protocol (the nasal spray, 60 minutes) neither gap was
    lost and the IV-only chair, less used, was taken, leaving it a hole nothing can fill."""
    clinic = _clinic([Route.IV], [Route.IV, Route.INTRANASAL])
    iv_only, with_spray = clinic.chairs
    _book_iv(clinic, 0, at_new_york(START, 11) + dt.timedelta(minutes=30))
    _book_iv(clinic, 1, at_new_york(START, 11), at_new_york(START, 14))

    booked = appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=at_new_york(START, 8),
        actor=None,
        now=NOW,
    )

    assert booked.chair_id == with_spray.pk
    assert booked.chair_id != iv_only.pk


def _board_gap_starts(client, clinic: Clinic, day: dt.date, chair: int = 0) -> list[dt.time]:
    """The local starts of the free gaps the day board offers in the site's chair at index `chair`."""
    with time_machine.travel(NOW, tick=False):
        login(client, clinic.front_desk.user)
        response = client.get(reverse("web:board"), {"day": day.isoformat()})
    assert response.status_code == 200
    lane = next(lane for lane in response.context["grid"].lanes if lane.obj.pk == clinic.chairs[chair].pk)
    return [item.starts_at.time() for item in lane.items if item.kind == "gap"]


def _with_a_100_minute_hole(clinic: Clinic, chair: int) -> None:
    """IV sessions 08:00-10:00 and 11:40-13:40 in the chair at index `chair`: the 100 minutes between
    them fit a nasal spray session only."""
    _book_iv(clinic, chair, at_new_york(START, 8), at_new_york(START, 8) + dt.timedelta(minutes=220))


def test_each_chair_is_measured_by_the_shortest_protocol_it_is_equipped_for(nasal_spray):
    clinic = _clinic([Route.IV], [Route.IV, Route.INTRANASAL], [Route.ORAL])
    ChairFactory(site=clinic.site, name="Retired spray chair", equipment=[Route.INTRANASAL], active=False)
    ChairFactory(equipment=[Route.INTRANASAL])  # at a site of its own
    ProtocolFactory(name="Retired IV, one hour", route=Route.IV, session_minutes=60, active=False)

    iv_only, with_spray, _oral_only = clinic.chairs
    # The oral chair takes no active protocol: it has no minimum, rather than the clinic's shortest.
    assert shortest_session_minutes_by_chair(site=clinic.site) == {iv_only.pk: 120, with_spray.pk: 60}


def test_without_any_active_protocol_no_chair_has_a_minimum(db):
    clinic = _clinic([Route.IV])
    clinic.protocol.active = False
    clinic.protocol.save(update_fields=["active"])

    assert shortest_session_minutes_by_chair(site=clinic.site) is None


@pytest.mark.parametrize(
    ("second_chair", "hole_in", "hole_offered"),
    [([Route.IV], 0, False), ([Route.IV, Route.INTRANASAL], 0, False), ([Route.IV, Route.INTRANASAL], 1, True)],
    ids=["iv-only site", "iv-only chair beside a nasal spray chair", "the nasal spray chair"],
)
def test_the_board_offers_a_100_minute_hole_only_where_a_session_that_short_can_be_given(
    client, nasal_spray, second_chair, hole_in, hole_offered
):
    """Both chairs hold IV sessions 08:00-10:00 and 11:40-13:40: the 100 minutes between them fit a
    nasal spray session only, so the board offers them only in a chair equipped for nasal spray, not
    in an IV-only chair beside one."""
    clinic = _clinic([Route.IV], second_chair)
    _with_a_100_minute_hole(clinic, chair=0)
    _with_a_100_minute_hole(clinic, chair=1)

    starts = _board_gap_starts(client, clinic, START, chair=hole_in)

    assert (dt.time(10) in starts) is hole_offered, starts
    assert dt.time(13, 45) in starts, starts  # the afternoon is free either way (from the next quarter hour)


def test_an_iv_only_chair_is_not_offered_a_hole_only_a_nasal_spray_session_would_fit(client, nasal_spray):
    """The desk clicks a gap to book a session: a nasal spray session in the IV-only chair at 10:00 is
    refused (the chair's equipment), so the board must not offer that chair the 100-minute hole."""
    clinic = _clinic([Route.IV], [Route.IV, Route.INTRANASAL])
    _with_a_100_minute_hole(clinic, chair=0)

    with pytest.raises(SchedulingError):
        appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=at_new_york(START, 10),
            chair=clinic.chairs[0],
            route=Route.INTRANASAL,
            duration=dt.timedelta(minutes=60),
            actor=clinic.front_desk.user,
            now=NOW,
        )

    assert dt.time(10) not in _board_gap_starts(client, clinic, START, chair=0)


def test_a_chair_equipped_for_no_active_protocol_is_offered_no_gap(client, nasal_spray):
    """An oral-only chair beside an IV one: no active protocol's session can be booked in it, so it
    is offered no gap at all (the clinic's shortest protocol would offer gaps nothing could use)."""
    clinic = _clinic([Route.IV], [Route.ORAL])

    assert _board_gap_starts(client, clinic, START, chair=1) == []
    assert dt.time(8) in _board_gap_starts(client, clinic, START, chair=0)


def test_each_chairs_minimum_is_read_alike_on_sqlite(tmp_path, tmp_path_factory):
    """The per-chair read is hand-written SQL (a JSON containment on PostgreSQL, json_each on
    SQLite): the embedded default gives the same minimums, for the board and within the level
    placement's one read."""
    from tests.sqlite_shell import migrated_copy
    from tests.test_embedded_booking import shell
    from tests.test_embedded_default import embedded_env

    migrated_copy(tmp_path, tmp_path_factory)
    env = embedded_env(tmp_path)
    code = (
        "import json\n"
        "from clinic.models import Route\n"
        "from scheduling.selectors import shortest_session_minutes_by_chair, site_placement\n"
        "from tests.factories import ChairFactory, ProtocolFactory, SiteFactory\n"
        "ProtocolFactory()\n"
        "ProtocolFactory(name='Spray', route=Route.INTRANASAL, session_minutes=60)\n"
        "site = SiteFactory(placement_policy='level')\n"
        "iv = ChairFactory(site=site, name='IV', equipment=[Route.IV])\n"
        "spray = ChairFactory(site=site, name='Spray', equipment=[Route.IV, Route.INTRANASAL])\n"
        "ChairFactory(site=site, name='Oral', equipment=[Route.ORAL])\n"
        "by_chair = shortest_session_minutes_by_chair(site=site)\n"
        "placed = {k: v.total_seconds() // 60 for k, v in site_placement(site).shortest_sessions.items()}\n"
        "print('SHORTEST', json.dumps({'iv': by_chair.pop(iv.pk), 'spray': by_chair.pop(spray.pk),\n"
        "    'others': by_chair, 'placed': [placed.pop(iv.pk), placed.pop(spray.pk), placed]}))\n"
    )

    assert shell(env, code, "SHORTEST") == {"iv": 120, "spray": 60, "others": {}, "placed": [120, 60, {}]}
