"""A small clinic with staffed shifts, for booking tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from clinic.models import Chair, Role, Shift, Site, StaffMember
from scheduling.models import Appointment, Phase, PlanStatus, Protocol, TreatmentPlan
from scheduling.services import (
    appointment_book,
    appointment_check_in,
    appointment_complete,
    course_book,
    plan_create,
    plan_pause,
)
from tests.clinical_helpers import complete_session, record_session_for_completion
from tests.factories import ChairFactory, PatientFactory, ProtocolFactory, SiteFactory, StaffFactory, UserFactory

# A Monday; the US clocks change on Sunday 8 March 2026.
START = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 2, 27, 15, tzinfo=dt.UTC)


def at_new_york(day: dt.date, hour: int) -> dt.datetime:
    """`hour` o'clock on `day` at the test clinic (America/New_York)."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo("America/New_York"))


def start_plus(days: int) -> dt.date:
    return START + dt.timedelta(days=days)


@dataclass
class Clinic:
    site: Site
    chairs: list[Chair]
    nurses: list[StaffMember]
    prescriber: StaffMember
    front_desk: StaffMember
    protocol: Protocol

    def plan(self, **kwargs) -> TreatmentPlan:
        patient = kwargs.pop("patient", None) or PatientFactory(home_site=self.site)
        return plan_create(
            patient=patient,
            protocol=kwargs.pop("protocol", self.protocol),
            prescriber=kwargs.pop("prescriber", self.prescriber),
            start_date=kwargs.pop("start_date", START),
            actor=self.prescriber.user,
            **kwargs,
        )

    def book(self, plan: TreatmentPlan, starts: Iterable[dt.datetime], **extra) -> list[Appointment]:
        """Each start booked for the plan's patient in the first chair, by the front desk at NOW."""
        return [
            appointment_book(
                patient=plan.patient,
                plan=plan,
                site=self.site,
                starts_at=starts_at,
                chair=self.chairs[0],
                actor=self.front_desk.user,
                now=NOW,
                **extra,
            )
            for starts_at in starts
        ]


def add_shifts(nurse: StaffMember, site: Site, first: dt.date, days: int) -> None:
    zone = ZoneInfo(site.time_zone)
    Shift.objects.bulk_create(
        Shift(
            staff=nurse,
            site=site,
            starts_at=dt.datetime.combine(day, dt.time(7, 30), tzinfo=zone),
            ends_at=dt.datetime.combine(day, dt.time(18, 30), tzinfo=zone),
        )
        for day in (first + dt.timedelta(days=i) for i in range(days))
    )


def make_clinic(
    *, time_zone: str = "America/New_York", chairs: int = 3, nurses: int = 1, days: int = 240, **site_kwargs
) -> Clinic:
    site = SiteFactory(time_zone=time_zone, **site_kwargs)
    chair_rows = [ChairFactory(site=site, name=f"Chair {i + 1}") for i in range(chairs)]
    nurse_rows = [StaffFactory(role=Role.NURSE, sites=[site]) for _ in range(nurses)]
    for nurse in nurse_rows:
        add_shifts(nurse, site, START - dt.timedelta(days=7), days)
    return Clinic(
        site=site,
        chairs=chair_rows,
        nurses=nurse_rows,
        prescriber=StaffFactory(role=Role.PRESCRIBER, user=UserFactory(username="dr_prescriber"), sites=[site]),
        front_desk=StaffFactory(role=Role.FRONT_DESK, user=UserFactory(username="desk"), sites=[site]),
        protocol=ProtocolFactory(),
    )


@pytest.fixture
def clinic(db) -> Clinic:
    return make_clinic()


def into_maintenance(clinic: Clinic, **plan_kwargs) -> tuple[TreatmentPlan, list[Appointment]]:
    """A plan whose induction course was booked from START and every session given (recorded and
    completed): the plan is in maintenance, its sessions laid out. The plan and the course."""
    plan = clinic.plan(**plan_kwargs)
    booked = course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    for session in booked:
        complete_session(session)
    plan.refresh_from_db()
    assert plan.phase == Phase.MAINTENANCE
    return plan, booked


def induction_completed_while_paused(plan: TreatmentPlan, course: list[Appointment], *, pauser) -> Appointment:
    """Every session of the booked induction `course` but the last given; the patient checked in for
    the last, the plan paused by the user `pauser` while they sit in the chair (a session begun is not
    released), and that session completed: the plan is paused, still in its induction, with the whole
    induction held. The last session."""
    for session in course[:-1]:
        complete_session(session)
    last = course[-1]
    appointment_check_in(appointment=last, actor=None, now=last.starts_at)
    plan_pause(plan=plan, reason="Travelling abroad for two months", actor=pauser, now=last.starts_at)
    record_session_for_completion(last)
    appointment_complete(appointment=last, actor=None, now=last.ends_at)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAUSED and plan.phase == Phase.INDUCTION
    return last
