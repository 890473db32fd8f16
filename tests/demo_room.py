"""What the demo clinic leaves free in the days after it is seeded, as plain values: read by
tests/test_seed_demo_room.py on PostgreSQL and, through `manage.py shell`, on the embedded SQLite.

A working clinic has room in the coming days: each open day has free chair time, some patients
are due a session that is not booked yet, and a booked session can be moved a day or so."""

from __future__ import annotations

import datetime as dt
from typing import Any

from clinic.models import Chair, Closure, OpeningHours, Site
from scheduling.engine import Availability
from scheduling.engine.wallclock import day_bounds
from scheduling.models import (
    BLOCKING_STATUSES,
    UPCOMING_STATUSES,
    Appointment,
    Phase,
    PlanStatus,
    TreatmentPlan,
)
from scheduling.selectors import site_snapshot, sites_with_schedule
from scheduling.services.slot_finder import find_free_slots
from web.booking import MAINTENANCE, default_kind

COMING_DAYS = 14
MOVE_REACH_DAYS = 3  # the days either side of a session that a move is looked for in


def open_days(site: Site, today: dt.date, days: int = COMING_DAYS) -> list[dt.date]:
    """The site's open days after `today`, up to `days` days ahead (a day a closure covers is shut)."""
    hours = {h.weekday: (h.opens_at, h.closes_at) for h in OpeningHours.objects.filter(site=site)}
    closures = list(Closure.objects.filter(site=site))
    found = []
    for offset in range(1, days + 1):
        day = today + dt.timedelta(days=offset)
        if day.weekday() not in hours:
            continue
        opens, closes = (dt.datetime.combine(day, t, tzinfo=site.zone) for t in hours[day.weekday()])
        if any(c.starts_at <= opens and closes <= c.ends_at for c in closures):
            continue
        found.append(day)
    return found


def _chair_use(site: Site, day: dt.date) -> float:
    """The share of the day's chair time (chairs x opening hours) that booked sessions take."""
    hours = OpeningHours.objects.get(site=site, weekday=day.weekday())
    opens = dt.datetime.combine(day, hours.opens_at, tzinfo=site.zone)
    closes = dt.datetime.combine(day, hours.closes_at, tzinfo=site.zone)
    booked = dt.timedelta(0)
    for starts_at, ends_at in Appointment.objects.filter(
        site=site, status__in=BLOCKING_STATUSES, starts_at__lt=closes, ends_at__gt=opens
    ).values_list("starts_at", "ends_at"):
        booked += min(ends_at, closes) - max(starts_at, opens)
    return booked / ((closes - opens) * Chair.objects.filter(site=site).count())


def room_in_the_coming_days(*, site: Site, now: dt.datetime) -> dict[str, Any]:
    """What the front desk finds from the day after `now` (JSON values, days as ISO dates):

    - `chair_use`: each open day of the next two weeks, the share of its chair time booked;
    - `free_starts`: each of those days, how many starts a 120-minute IV session could take;
    - `bookable`: patient id -> the first of the next two open days the booking page offers a time
      on for the patient's open plan (its usual kind of session), for those it offers one;
    - `stuck`: the sessions booked from the second open day to two weeks ahead that no other day
      within three days either side would take (the booking page's move search, as the desk runs
      it). A session on the next open day is left out: no earlier day is left for it, and the
      course's spacing may rightly refuse the later ones (Saturday's induction session seen on
      Friday night, with the next one on Tuesday and the clinic shut on Sunday)."""
    site = sites_with_schedule().get(pk=site.pk)
    today = now.astimezone(site.zone).date()
    days = open_days(site, today)
    start, _ = day_bounds(days[0], site.zone)
    _, end = day_bounds(days[-1], site.zone)
    availability = Availability(site_snapshot(site=site, start=start, end=end, now=now))
    session = dt.timedelta(minutes=120)
    result: dict[str, Any] = {
        "open_days": [day.isoformat() for day in days],
        "chair_use": {day.isoformat(): round(_chair_use(site, day), 3) for day in days},
        "free_starts": {
            day.isoformat(): sum(1 for _ in availability.free_slots(day, session, "iv", not_before=now)) for day in days
        },
        "bookable": {},
        "stuck": [],
    }
    plans = TreatmentPlan.objects.filter(site=site, status=PlanStatus.ACTIVE).select_related("patient", "protocol")
    for plan in plans.order_by("pk"):
        phase = Phase.MAINTENANCE if default_kind(plan) == MAINTENANCE else plan.phase
        found = find_free_slots(
            site=site,
            patient=plan.patient,
            first_day=days[0],
            last_day=days[1],
            duration=dt.timedelta(minutes=plan.protocol.session_minutes),
            route=plan.protocol.route,
            now=now,
            plan=plan,
            phase=phase,
        )
        first = next((choices.day for choices in found if choices.bookable), None)
        if first is not None:
            result["bookable"][plan.patient_id] = first.isoformat()
    upcoming = Appointment.objects.filter(
        site=site, status__in=UPCOMING_STATUSES, starts_at__gte=day_bounds(days[1], site.zone)[0], starts_at__lt=end
    ).select_related("patient", "plan__protocol")
    for appointment in upcoming.order_by("starts_at", "pk"):
        own_day = appointment.starts_at.astimezone(site.zone).date()
        reach = dt.timedelta(days=MOVE_REACH_DAYS)
        found = find_free_slots(
            site=site,
            patient=appointment.patient,
            first_day=max(today + dt.timedelta(days=1), own_day - reach),
            last_day=own_day + reach,
            duration=appointment.ends_at - appointment.starts_at,
            route=appointment.session_route,
            now=now,
            plan=appointment.plan,
            phase=appointment.phase,
            exclude_id=appointment.pk,
        )
        if not any(choices.bookable for choices in found if choices.day != own_day):
            result["stuck"].append(
                f"#{appointment.pk} {appointment.patient.full_name} {appointment.phase} {own_day:%a %-d %b}"
            )
    return result
