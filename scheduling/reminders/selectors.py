"""Reads for the front desk about reminders and confirmations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from clinic.models import Site
from scheduling.models import UPCOMING_STATUSES, Appointment, AppointmentStatus


@dataclass(frozen=True)
class FrontDeskDailyList:
    site: Site
    day: dt.date
    sessions: list[Appointment]

    @property
    def not_confirmed(self) -> list[Appointment]:
        return [a for a in self.sessions if a.status != AppointmentStatus.CONFIRMED]

    @property
    def without_ride(self) -> list[Appointment]:
        return [a for a in self.sessions if not a.ride_home.strip()]


def front_desk_daily_list(*, site: Site, day: dt.date) -> FrontDeskDailyList:
    """The site's booked or confirmed sessions on `day` (the site's own calendar
    day, midnight to midnight in its zone, 23 or 25 hours on a clock-change day)."""
    day_starts = dt.datetime.combine(day, dt.time(0), tzinfo=site.zone)
    next_day_starts = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=site.zone)
    sessions = list(
        Appointment.objects.filter(
            site=site, status__in=UPCOMING_STATUSES, starts_at__gte=day_starts, starts_at__lt=next_day_starts
        )
        .select_related("patient", "chair", "nurse__user")
        .order_by("starts_at", "chair__name")
    )
    return FrontDeskDailyList(site=site, day=day, sessions=sessions)
