"""A hold (FHIR $hold) on a course that is then paused, ended or brought to an earlier review date
never becomes a booking: pausing or ending the course releases its holds, a review date brought
forward the holds after it, and booking a hold re-reads the course and its rules under its lock."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction

from scheduling import services
from scheduling.errors import BookingConflict, InvalidState, PlanRuleBroken
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
    # The EHR's $book is told why: the course, not a lapsed hold to make again.
    with pytest.raises(InvalidState, match=f"The plan is {how}( early)?; the held time cannot be booked"):
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


@pytest.mark.django_db(transaction=True)
def test_booking_a_hold_while_its_course_is_being_paused_waits_and_is_refused_not_deadlocked(clinic):
    # The pause holds the plan's row (its first statement) while the $book arrives. Booking the
    # hold locked the hold first and then the plan, while the pause locks the plan and then
    # cancels the hold: a deadlock (a 500). Booking now takes the plan first, waits, and is refused.
    plan, held = _course_with_a_hold(clinic)
    started = threading.Barrier(2, timeout=10)
    outcomes: dict[str, str] = {}

    def pause() -> None:
        try:
            with transaction.atomic():
                TreatmentPlan.objects.select_for_update().get(pk=plan.pk)
                started.wait()
                time.sleep(0.5)  # the booking reaches its locks meanwhile
                services.plan_pause(plan=plan, reason="Travelling", actor=clinic.prescriber.user, now=NOW)
            outcomes["pause"] = "paused"
        except Exception as exc:
            outcomes["pause"] = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    def book() -> None:
        try:
            started.wait()
            services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)
            outcomes["book"] = "booked"
        except Exception as exc:
            outcomes["book"] = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    threads = [threading.Thread(target=pause), threading.Thread(target=book)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes == {
        "pause": "paused",
        "book": "InvalidState: The plan is paused; the held time cannot be booked.",
    }
    assert Appointment.objects.get(pk=held.pk).status == AppointmentStatus.CANCELLED


def test_bringing_the_review_date_forward_releases_a_hold_after_it(clinic):
    """As pausing and ending do: booked later, the hold would put a session past the end of the course."""
    plan, held = _course_with_a_hold(clinic)
    first = plan.appointments.get(starts_at=FIRST)
    review = dt.date(2026, 3, 3)  # between the session booked and the time held

    services.plan_change_review_date(
        plan=plan, review_date=review, reason="Dependence concern", actor=clinic.prescriber.user, now=NOW
    )
    held.refresh_from_db()
    first.refresh_from_db()
    assert held.status == AppointmentStatus.CANCELLED, "a hold after the new review date was kept"
    assert held.cancellation_reason == "After the plan's new review date (Tue 3 Mar 2026)"
    assert first.status == AppointmentStatus.BOOKED
    # The EHR's $book is told the hold was released and why, not that it lapsed.
    with pytest.raises(BookingConflict) as refused:
        services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)
    assert refused.value.message == (
        "The hold was released: After the plan's new review date (Tue 3 Mar 2026). Find a new time and hold it again."
    )
    assert refused.value.details["reason"] == "hold_released"


def test_a_hold_released_by_a_pause_is_refused_as_released_once_the_course_is_resumed(clinic):
    """While the course is paused its status answers; once it is resumed, the hold's own release does."""
    plan, held = _course_with_a_hold(clinic)
    services.plan_pause(plan=plan, reason="Travelling", actor=clinic.prescriber.user, now=NOW)
    services.plan_resume(
        plan=plan, resume_date=dt.date(2026, 3, 9), reason="Back home", actor=clinic.prescriber.user, now=NOW
    )

    with pytest.raises(BookingConflict) as refused:
        services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)

    assert refused.value.message == "The hold was released: Plan paused. Find a new time and hold it again."
    held.refresh_from_db()
    assert held.status == AppointmentStatus.CANCELLED


def test_a_hold_that_breaks_the_plans_rules_now_is_not_booked_and_stays_a_hold(clinic):
    # The review date is brought before the held time by another transaction between the hold and
    # its booking (written straight to the row: the service would have released the hold).
    plan, held = _course_with_a_hold(clinic)
    TreatmentPlan.objects.filter(pk=plan.pk).update(review_date=dt.date(2026, 3, 3))

    with pytest.raises(
        PlanRuleBroken, match=r"breaks the plan's rules: after the plan's review date \(Tue 3 Mar 2026\)"
    ):
        services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)

    held.refresh_from_db()
    assert held.status == AppointmentStatus.HELD and held.reminders.count() == 0
