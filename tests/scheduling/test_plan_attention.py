"""A plan's "needs attention" flag after a lost induction session: what the make-up search at
cancel time says, and how the flag is cleared (a booking that makes the course whole again, or a
clinician's review)."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Closure
from scheduling import services
from scheduling.models import AppointmentStatus, Phase
from scheduling.services.core import save_with_history
from tests.scheduling.conftest import at_new_york, start_plus

pytestmark = pytest.mark.django_db

# Six sessions over three weeks, at least 48 h apart (the factory's protocol: six within 21 days):
# Mon 2, Thu 5, Mon 9, Thu 12, Tue 17 and Fri 20 March, each at 10:00.
COURSE_DAYS = [0, 3, 7, 10, 15, 18]
# The patient cancels the fifth (Tue 17) on Fri 13 March, in the afternoon.
CANCELLED_AT = at_new_york(start_plus(11), 15)
MON_16 = start_plus(14)


def _three_week_course(clinic):
    plan = clinic.plan()
    booked = clinic.book(plan, [at_new_york(start_plus(day), 10) for day in COURSE_DAYS])
    assert [a.sequence for a in booked] == [1, 2, 3, 4, 5, 6]
    return plan, booked


def _close_after_the_course(clinic, booked):
    """Nothing after the sixth session fits the window (it ends on Sun 22 March): the make-up can
    only go between the fourth and the sixth, as the booking page offers it."""
    Closure.objects.create(
        site=clinic.site,
        reason="Staff training",
        starts_at=booked[5].ends_at,
        ends_at=at_new_york(start_plus(22), 0),
    )


def test_a_cancelled_fifth_session_offers_the_make_up_that_fits_before_the_sixth(clinic):
    plan, booked = _three_week_course(clinic)
    _close_after_the_course(clinic, booked)
    outcome = services.appointment_cancel(
        appointment=booked[4], actor=clinic.front_desk.user, reason="Away", now=CANCELLED_AT
    )
    assert outcome.short_by == 1 and outcome.plan_flagged
    assert outcome.replacement_starts_at is not None
    # Sat 14 and Sun 15 are closed; Mon 16 is 4 days after the fourth and 4 before the sixth.
    assert outcome.replacement_starts_at.astimezone(clinic.site.zone).date() == MON_16
    plan.refresh_from_db()
    assert plan.needs_attention
    assert "no replacement fits" not in plan.attention_reason
    assert "the first replacement that fits is Mon 16 Mar 2026" in plan.attention_reason
    # The time offered is one the booking takes as it stands: no rule broken, no override asked.
    made_up = services.appointment_book(
        patient=plan.patient,
        plan=plan,
        site=clinic.site,
        starts_at=outcome.replacement_starts_at,
        phase=Phase.INDUCTION,
        actor=clinic.front_desk.user,
        now=CANCELLED_AT,
    )
    assert made_up.status == AppointmentStatus.BOOKED


def test_a_no_show_is_made_up_on_another_day_between_the_sessions_that_stand(clinic):
    plan, booked = _three_week_course(clinic)
    _close_after_the_course(clinic, booked)
    # The fourth (Thu 12, 10:00) is missed; the desk marks it at 14:00. Thu 12 itself is not offered
    # again; Fri 13 is 4 days after the third (Mon 9) and 4 before the fifth (Tue 17).
    outcome = services.appointment_mark_no_show(
        appointment=booked[3], actor=clinic.front_desk.user, now=at_new_york(start_plus(10), 14)
    )
    assert outcome.short_by == 1 and outcome.replacement_starts_at is not None
    assert outcome.replacement_starts_at.astimezone(clinic.site.zone).date() == start_plus(11)
    plan.refresh_from_db()
    assert (
        "was missed" in plan.attention_reason
        and "the first replacement that fits is Fri 13 Mar" in plan.attention_reason
    )


def test_the_search_still_says_no_make_up_fits_when_none_does(clinic):
    plan, booked = _three_week_course(clinic)
    _close_after_the_course(clinic, booked)
    Closure.objects.create(
        site=clinic.site, reason="Boiler", starts_at=CANCELLED_AT, ends_at=at_new_york(start_plus(17), 0)
    )
    outcome = services.appointment_cancel(
        appointment=booked[4], actor=clinic.front_desk.user, reason="Away", now=CANCELLED_AT
    )
    assert outcome.replacement_starts_at is None
    plan.refresh_from_db()
    assert plan.needs_attention and "no replacement fits the induction window" in plan.attention_reason
    assert "Only 0 of the 1 remaining session fit before Sun 22 Mar" in plan.attention_reason  # and why


def _cancel_fifth(clinic):
    plan, booked = _three_week_course(clinic)
    outcome = services.appointment_cancel(
        appointment=booked[4], actor=clinic.front_desk.user, reason="Away", now=CANCELLED_AT
    )
    plan.refresh_from_db()
    assert plan.needs_attention and outcome.replacement_starts_at is not None
    return plan, booked, outcome


def _book_make_up(clinic, plan, starts_at, now=CANCELLED_AT):
    return services.appointment_book(
        patient=plan.patient,
        plan=plan,
        site=clinic.site,
        starts_at=starts_at,
        phase=Phase.INDUCTION,
        actor=clinic.front_desk.user,
        now=now,
    )


def test_booking_the_make_up_that_makes_the_course_whole_clears_the_flag(clinic):
    plan, _, outcome = _cancel_fifth(clinic)
    version = plan.version
    _book_make_up(clinic, plan, outcome.replacement_starts_at)
    plan.refresh_from_db()
    assert not plan.needs_attention and plan.attention_reason == ""
    assert plan.version > version
    latest = plan.history.order_by("-history_date", "-history_id").first()
    assert latest.history_change_reason.startswith("Attention cleared: the induction holds its 6 sessions again")
    assert latest.history_user == clinic.front_desk.user


def test_booking_a_held_make_up_that_makes_the_course_whole_clears_the_flag(clinic):
    # The EHR holds the make-up ($hold) and then books it ($book): the booking takes the flag back
    # as a direct booking does.
    plan, _, outcome = _cancel_fifth(clinic)
    held = services.appointment_book(
        patient=plan.patient,
        plan=plan,
        site=clinic.site,
        starts_at=outcome.replacement_starts_at,
        phase=Phase.INDUCTION,
        actor=clinic.front_desk.user,
        now=CANCELLED_AT,
        hold_until=CANCELLED_AT + dt.timedelta(minutes=10),
    )
    plan.refresh_from_db()
    assert plan.needs_attention, "a hold is not a booking: the course is still short"
    version = plan.version
    services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=CANCELLED_AT)
    plan.refresh_from_db()
    assert not plan.needs_attention and plan.attention_reason == ""
    assert plan.version > version
    latest = plan.history.order_by("-history_date", "-history_id").first()
    assert latest.history_change_reason.startswith("Attention cleared: the induction holds its 6 sessions again")
    assert latest.history_user == clinic.front_desk.user


def test_a_make_up_that_leaves_the_course_short_keeps_the_flag(clinic):
    plan, booked = _three_week_course(clinic)
    wednesday = at_new_york(start_plus(9), 15)
    for lost in (booked[3], booked[4]):  # Thu 12 and Tue 17
        services.appointment_cancel(appointment=lost, actor=clinic.front_desk.user, reason="Away", now=wednesday)
    plan.refresh_from_db()
    # Both cancels stand in the reason, the first kept before the second.
    assert plan.attention_reason.count("was cancelled") == 2
    _book_make_up(clinic, plan, at_new_york(start_plus(11), 10), now=wednesday)  # Fri 13
    plan.refresh_from_db()
    assert plan.needs_attention and "short by 2 sessions" in plan.attention_reason
    _book_make_up(clinic, plan, at_new_york(MON_16, 10), now=wednesday)
    plan.refresh_from_db()
    assert not plan.needs_attention and plan.attention_reason == ""


def _flag_for_another_reason(plan, reason):
    """A flag another check raised (a screening reading, sessions kept after a review date)."""
    plan.needs_attention, plan.attention_reason = True, reason
    save_with_history(plan, fields=["needs_attention", "attention_reason"], actor=None, reason="Flagged: other")


def test_a_flag_for_something_else_stays_after_the_make_up(clinic):
    plan, _, outcome = _cancel_fifth(clinic)
    _flag_for_another_reason(plan, f"{plan.attention_reason} Blood pressure 170/100 recorded.")
    reason = plan.attention_reason
    _book_make_up(clinic, plan, outcome.replacement_starts_at)
    plan.refresh_from_db()
    assert plan.needs_attention and plan.attention_reason == reason


def test_the_flag_standing_before_the_cancel_stands_again_after_the_make_up(clinic):
    plan, booked = _three_week_course(clinic)
    earlier = "Blood pressure 170/100 recorded."
    _flag_for_another_reason(plan, earlier)
    outcome = services.appointment_cancel(
        appointment=booked[4], actor=clinic.front_desk.user, reason="Away", now=CANCELLED_AT
    )
    plan.refresh_from_db()
    assert plan.attention_reason.startswith("Blood pressure 170/100 recorded. Session on Tue 17 Mar")
    _book_make_up(clinic, plan, outcome.replacement_starts_at)
    plan.refresh_from_db()
    assert plan.needs_attention and plan.attention_reason == earlier


def test_a_clinician_clears_the_flag_with_a_reason_and_the_history_keeps_it(clinic):
    plan, _, _ = _cancel_fifth(clinic)
    services.plan_clear_attention(plan=plan, reason="Patient away; course ends with five", actor=clinic.prescriber.user)
    plan.refresh_from_db()
    assert not plan.needs_attention and plan.attention_reason == ""
    latest = plan.history.order_by("-history_date", "-history_id").first()
    assert latest.history_change_reason == "Reviewed: Patient away; course ends with five"
