"""A level site whose placement inputs are read both ways: `site_placement`'s one read, and the
selectors that read the same things one at a time. Shared by the PostgreSQL test
(test_placement_services.py) and the SQLite one (tests/test_embedded_booking.py), which runs it
in `manage.py shell`. Every date is fixed: nothing here depends on the day it runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from clinic.models import Route
from scheduling.models import AppointmentStatus, DayPlan, DayTemplate, DayTemplateState
from scheduling.selectors import (
    _starts_of,
    _template_entries,
    patient_habits,
    preferred_starts,
    shortest_session_minutes_by_chair,
    site_placement,
)
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory, ProtocolFactory, SiteFactory

TUESDAY = dt.date(2030, 1, 8)
PLANNED = TUESDAY + dt.timedelta(days=14)


def minutes_of(duration: dt.timedelta | None) -> int | None:
    return int(duration.total_seconds() // 60) if duration else None


def minutes_by_chair(shortest: dict[int, Any] | None) -> dict[str, int] | None:
    """Chair id -> minutes (a timedelta's or a number's), keyed by text as JSON keeps them."""
    if shortest is None:
        return None
    return {str(k): minutes_of(v) if isinstance(v, dt.timedelta) else v for k, v in shortest.items()}


def level_site_read_both_ways() -> dict[str, Any]:
    site = SiteFactory(name="Level reads", placement_policy="level")
    other_site = SiteFactory(name="Elsewhere")
    zone = site.zone
    # IV chairs, and one that takes neither an IV nor a nasal spray protocol: the shorter nasal
    # spray protocol is given elsewhere (the spray site's chair).
    first = ChairFactory(site=site, name="L1", equipment=[Route.IV])
    second = ChairFactory(site=site, name="L2", equipment=[Route.IV])
    ChairFactory(site=site, name="Oral", equipment=[Route.ORAL])
    ProtocolFactory(name="Ninety minutes", session_minutes=90)
    ProtocolFactory(name="Retired, one hour", session_minutes=60, active=False)
    ProtocolFactory(name="Nasal spray, 75 minutes", route=Route.INTRANASAL, session_minutes=75)
    spray_site = SiteFactory(name="Spray", placement_policy="level")
    ChairFactory(site=spray_site, name="S1", equipment=[Route.INTRANASAL])
    patient = PatientFactory(home_site=site)

    def at(day: dt.date, hour: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), tzinfo=zone)

    # The latest six attended at the site: four on Tuesdays 10:00 in L2, two on Wednesdays 14:00
    # in L1. The three oldest (Thursdays 09:00 in L1), a cancelled session, one at another site and
    # the sessions not attended yet (booked or held, on Fridays 16:00 in L1: a session being moved,
    # a layout being planned again) do not count; with them the usual chair would be L1.
    attended = AppointmentStatus.COMPLETED
    for week in range(4):
        AppointmentFactory(
            patient=patient, chair=second, starts_at=at(TUESDAY + dt.timedelta(weeks=week), 10), status=attended
        )
    for week in range(2):
        AppointmentFactory(
            patient=patient,
            chair=first,
            starts_at=at(TUESDAY + dt.timedelta(weeks=week, days=1), 14),
            status=attended,
        )
    for week in (-4, -3, -2):
        AppointmentFactory(
            patient=patient,
            chair=first,
            starts_at=at(TUESDAY + dt.timedelta(weeks=week, days=2), 9),
            status=attended,
        )
    for week, status in ((4, AppointmentStatus.BOOKED), (5, AppointmentStatus.CONFIRMED), (6, AppointmentStatus.HELD)):
        starts_at = at(TUESDAY + dt.timedelta(weeks=week, days=3), 16)
        AppointmentFactory(
            patient=patient,
            chair=first,
            starts_at=starts_at,
            status=status,
            hold_expires_at=starts_at if status == AppointmentStatus.HELD else None,
        )
    AppointmentFactory(
        patient=patient,
        chair=first,
        starts_at=at(TUESDAY + dt.timedelta(weeks=5), 16),
        status=AppointmentStatus.CANCELLED,
        cancelled_at=at(TUESDAY, 8),
    )
    AppointmentFactory(
        patient=patient, chair=ChairFactory(site=other_site), starts_at=at(TUESDAY + dt.timedelta(weeks=6), 8)
    )

    computed = dt.datetime(2029, 12, 1, 12, tzinfo=dt.UTC)

    def template(state: str, hours: int, starts: list[dict[str, Any]], opening: list[str] | None = None) -> DayTemplate:
        return DayTemplate.objects.create(
            site=site,
            state=state,
            starts=starts,
            inputs={"opening": opening},
            sessions_per_day=len(starts),
            requested_at=computed,
            computed_at=computed + dt.timedelta(hours=hours),
        )

    template(DayTemplateState.DONE, 1, [{"chair_id": first.pk, "start": "08:00", "protocol_id": None, "lane": 0}])
    latest = template(
        DayTemplateState.DONE,
        2,
        [
            {"chair_id": first.pk, "start": "08:15", "protocol_id": None, "lane": 1},
            {"chair_id": second.pk, "start": "09:00", "protocol_id": None, "lane": 0},
            {"chair_id": second.pk, "start": "11:30", "protocol_id": None, "lane": 0},
        ],
        opening=["08:00", "18:00"],  # the hours it was solved for: its starts hold on days open so
    )
    template(DayTemplateState.FAILED, 3, [])  # a later failed run changes nothing
    # A day re-solved around its bookings: on that day L1 starts at 13:00 and L2 has no start left.
    DayPlan.objects.create(
        site=site,
        day=PLANNED,
        template=latest,
        starts=[{"chair_id": first.pk, "start": "13:00"}],
        computed_at=computed + dt.timedelta(hours=4),
    )

    one_read = site_placement(site, patient=patient)
    entries = _template_entries(site.pk)
    habits = patient_habits(patient, site=site)
    no_patient = site_placement(site)
    given = site_placement(site, patient=patient, preferred_starts={first.pk: frozenset({dt.time(12)})})

    def described(placement: Any) -> dict[str, Any]:
        return {
            "preferred": {str(k): sorted(f"{t:%H:%M}" for t in v) for k, v in placement.preferred_starts.items()},
            "lanes": {str(k): v for k, v in placement.chair_lanes.items()},
            "habits": [
                placement.habits.weekday,
                f"{placement.habits.clock:%H:%M}" if placement.habits.clock else None,
                placement.habits.chair_id,
            ],
            "shortest": minutes_by_chair(placement.shortest_sessions),
            "opening": [f"{t:%H:%M}" for t in placement.template_opening or ()],
            "plans": {
                day.isoformat(): {str(k): sorted(f"{t:%H:%M}" for t in v) for k, v in starts.items()}
                for day, starts in placement.day_starts.items()
            },
        }

    return {
        "chairs": [first.pk, second.pk],
        "one_read": described(one_read),
        "no_patient": described(no_patient),
        "given_starts": described(given),
        "one_at_a_time": {
            "preferred": {str(k): sorted(f"{t:%H:%M}" for t in v) for k, v in _starts_of(entries).items()},
            "lanes": {str(e["chair_id"]): e["lane"] for e in entries},
            "habits": [habits.weekday, f"{habits.clock:%H:%M}" if habits.clock else None, habits.chair_id],
            "shortest": minutes_by_chair(shortest_session_minutes_by_chair(site=site)),
            "opening": latest.inputs["opening"],
            "plans": {
                day.isoformat(): {str(k): sorted(f"{t:%H:%M}" for t in v) for k, v in starts.items()}
                for day in (PLANNED,)
                for starts in (preferred_starts(site_id=site.pk, day=day),)
            },
        },
        "spray_site_shortest": [
            minutes_by_chair(site_placement(spray_site).shortest_sessions),
            minutes_by_chair(shortest_session_minutes_by_chair(site=spray_site)),
        ],
        "another_day": {
            str(k): sorted(f"{t:%H:%M}" for t in v)
            for k, v in preferred_starts(site_id=site.pk, day=PLANNED + dt.timedelta(days=1)).items()
        },
    }


def check(found: dict[str, Any]) -> None:
    """What both databases must give."""
    first, second = found["chairs"]
    expected = {
        "preferred": {str(first): ["08:15"], str(second): ["09:00", "11:30"]},
        "lanes": {str(first): 1, str(second): 0},
        "habits": [TUESDAY.weekday(), "10:00", second],
        "shortest": {str(first): 90, str(second): 90},  # the chair taking no protocol has no minimum
        "opening": ["08:00", "18:00"],
        "plans": {PLANNED.isoformat(): {str(first): ["13:00"]}},
    }
    assert found["one_read"] == expected
    assert found["one_at_a_time"] == expected
    assert found["no_patient"] == {**expected, "habits": [None, None, None]}
    # Starts given by the caller hold on every day.
    assert found["given_starts"] == {
        **expected,
        "preferred": {str(first): ["12:00"]},
        "lanes": {},
        "plans": {},
        "opening": [],
    }
    # Each chair's shortest session among the protocols it is equipped for.
    (spray_chair,) = found["spray_site_shortest"][0]
    assert found["spray_site_shortest"] == [{spray_chair: 75}, {spray_chair: 75}]
    # A day without a plan keeps the template's starts.
    assert found["another_day"] == expected["preferred"]
