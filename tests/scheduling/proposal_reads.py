"""A proposal's hand-written reads (the site's opening hours and active chairs, the patient's
infusions so far) against the ORM reads they replace. Shared by the PostgreSQL test
(test_proposal_reads.py) and the SQLite one (tests/test_embedded_booking.py), which runs it in
`manage.py shell`. Every date is fixed: nothing here depends on the day it runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from clinic.models import Chair, OpeningHours, Site
from scheduling.models import INFUSION_STATUSES, Appointment, AppointmentStatus, PlanStatus
from scheduling.selectors import active_chairs, infusions_so_far, opening_hours
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory, PlanFactory, SiteFactory

MONDAY = dt.date(2030, 1, 7)


def proposal_reads_both_ways() -> dict[str, Any]:
    # Open 07:30-19:15 on Mondays and 09:00-13:00 on Saturdays: minutes and a weekend day survive.
    site = SiteFactory(
        name="Proposal reads", hours={0: (dt.time(7, 30), dt.time(19, 15)), 5: (dt.time(9), dt.time(13))}
    )
    other_site = SiteFactory(name="Proposal reads elsewhere")
    zone = site.zone
    # Name order is not id order, an inactive chair and another site's chair are left out.
    second = ChairFactory(site=site, name="B", equipment=["iv"])
    first = ChairFactory(site=site, name="A", equipment=["iv", "intranasal"])
    ChairFactory(site=site, name="0 retired", active=False)
    elsewhere = ChairFactory(site=other_site, name="A0")
    patient = PatientFactory(home_site=site)
    plan = PlanFactory(patient=patient, site=site)
    other_plan = PlanFactory(patient=patient, site=other_site, status=PlanStatus.COMPLETED)  # an earlier course

    def at(day: dt.date, hour: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), tzinfo=zone)

    # The plan's two sessions, one completed and one booked; another plan's session and a single one
    # (any plan counts for the last infusion); a cancelled one and a no-show count for neither.
    AppointmentFactory(
        patient=patient, plan=plan, chair=first, starts_at=at(MONDAY, 9), status=AppointmentStatus.COMPLETED
    )
    AppointmentFactory(patient=patient, plan=plan, chair=first, starts_at=at(MONDAY + dt.timedelta(days=14), 9))
    AppointmentFactory(
        patient=patient, plan=other_plan, chair=elsewhere, starts_at=at(MONDAY + dt.timedelta(days=3), 15)
    )
    AppointmentFactory(patient=patient, chair=second, starts_at=at(MONDAY + dt.timedelta(days=7), 11))
    AppointmentFactory(
        patient=patient,
        plan=plan,
        chair=second,
        starts_at=at(MONDAY + dt.timedelta(days=9), 8),
        status=AppointmentStatus.CANCELLED,
        cancelled_at=at(MONDAY, 8),
    )
    AppointmentFactory(
        patient=patient,
        plan=plan,
        chair=second,
        starts_at=at(MONDAY + dt.timedelta(days=10), 8),
        status=AppointmentStatus.NO_SHOW,
    )

    def orm_infusions(before: dt.datetime) -> list[Any]:
        mine = Appointment.objects.filter(patient=patient, status__in=INFUSION_STATUSES)
        last = mine.filter(starts_at__lt=before).order_by("-starts_at").values_list("starts_at", flat=True).first()
        return [mine.filter(plan=plan).count(), last.isoformat() if last else None]

    def hand_infusions(before: dt.datetime) -> list[Any]:
        held, last = infusions_so_far(patient_id=patient.pk, plan_id=plan.pk, before=before)
        return [held, last.isoformat() if last else None]

    befores = {
        "before any": at(MONDAY, 9),
        "after the first": at(MONDAY, 10),
        "after another plan's": at(MONDAY + dt.timedelta(days=4), 0),
        "after the single one": at(MONDAY + dt.timedelta(days=12), 0),
        "after all": at(MONDAY + dt.timedelta(days=30), 0),
    }
    fresh = Site.objects.get(pk=site.pk)  # neither annotated nor prefetched: the hand-written read
    prefetched = Site.objects.prefetch_related("opening_hours").get(pk=site.pk)

    def hours(found: dict[int, tuple[dt.time, dt.time]]) -> dict[str, list[str]]:
        return {str(day): [f"{opens:%H:%M}", f"{closes:%H:%M}"] for day, (opens, closes) in sorted(found.items())}

    def chairs(found: list[Chair]) -> list[list[Any]]:
        return [[c.pk, c.name, c.site_id, c.active, c.equipment] for c in found]

    return {
        "infusions": {name: [hand_infusions(before), orm_infusions(before)] for name, before in befores.items()},
        "hours": [
            hours(opening_hours(fresh)),
            hours(opening_hours(prefetched)),
            hours({row.weekday: (row.opens_at, row.closes_at) for row in OpeningHours.objects.filter(site=site)}),
        ],
        "hours_type": [type(value).__name__ for value in opening_hours(fresh)[0]],
        "chairs": [
            chairs(active_chairs(fresh)),
            chairs(list(Chair.objects.filter(site=site, active=True).order_by("name", "pk"))),
        ],
        "chair_ids": [first.pk, second.pk],
    }


def check(found: dict[str, Any]) -> None:
    """What both databases must give: the hand-written reads agree with the ORM's, and the ORM's are
    what the data says."""
    for name, (hand, orm) in found["infusions"].items():
        assert hand == orm, name
    counts = {name: hand[0] for name, (hand, _orm) in found["infusions"].items()}
    assert set(counts.values()) == {2}  # the completed and the booked one, whatever `before`
    lasts = [hand[1] for hand, _orm in found["infusions"].values()]
    assert lasts[0] is None and len(set(lasts[1:])) == 4  # each later `before` finds a later infusion
    hand, prefetched, orm = found["hours"]
    assert hand == prefetched == orm == {"0": ["07:30", "19:15"], "5": ["09:00", "13:00"]}
    assert found["hours_type"] == ["time", "time"]
    hand_chairs, orm_chairs = found["chairs"]
    assert hand_chairs == orm_chairs
    assert [row[0] for row in hand_chairs] == found["chair_ids"]  # A then B, by name
    assert [row[4] for row in hand_chairs] == [["iv", "intranasal"], ["iv"]]
