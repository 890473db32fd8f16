"""A hold (FHIR $hold) on a course that is then paused or ended never becomes a booking: pausing or
ending the course releases its holds, and booking a hold re-reads the course under its lock."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling import services
from scheduling.errors import InvalidState
from scheduling.models import Appointment, AppointmentStatus, PlanStatus, TreatmentPlan
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

FIRST = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)  # Mon 2 March, 10:00 New York
HELD_AT = dt.datetime(2026, 3, 5, 15, tzinfo=dt.UTC)  # Thu 5 March, 10:00 New York
UNTIL = NOW + dt.timedelta(minutes=10)


def _course_with_a_hold(clinic):
    plan = clinic.plan()
    book = {"patient": plan.patient, "plan": plan, "site": clinic.site, "chair": clinic.chairs[0], "now": NOW}
    services.appointment_book(starts_at=FIRST, actor=clinic.front_desk.user, **book)
    held = services.appointment_book(starts_at=HELD_AT, actor=clinic.front_desk.user, hold_until=UNTIL, **book)
    assert held.status == AppointmentStatus.HELD
    return plan, held


@pytest.mark.parametrize("how", ["paused", "ended"])
def test_pausing_or_ending_a_course_releases_its_holds_and_they_cannot_be_booked(clinic, how):
    plan, held = _course_with_a_hold(clinic)
    if how == "paused":
        services.plan_pause(plan=plan, reason="Travelling", actor=clinic.prescriber.user, now=NOW)
    else:
        services.plan_end(plan=plan, reason="Stopped treatment", actor=clinic.prescriber.user, now=NOW)

    held.refresh_from_db()
    assert held.status == AppointmentStatus.CANCELLED
    with pytest.raises(Exception, match="hold has expired"):
        services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)
    assert not Appointment.objects.filter(plan=plan, starts_at__gt=NOW, status=AppointmentStatus.BOOKED).exists()


def test_a_hold_whose_course_closed_meanwhile_is_refused_and_stays_a_hold(clinic):
    # The course is paused by another transaction between the hold and its booking (written
    # straight to the row: the pause service would have released the hold).
    plan, held = _course_with_a_hold(clinic)
    TreatmentPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.PAUSED)

    with pytest.raises(InvalidState, match="The plan is paused; the held time cannot be booked"):
        services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)

    held.refresh_from_db()
    assert held.status == AppointmentStatus.HELD and held.reminders.count() == 0
