"""A plan change that releases every future session (a pause, the end of the plan, a new induction
course) sends each released session's cancellation notice (each carries its own calendar
cancellation) in words that say what happened to the plan. Only a session cancelled on its own
asks the patient to call and book another: a paused plan is continued by calling, an ended one
is not rebooked, and a replaced course's new times come in their own messages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from scheduling import services
from scheduling.models import PlanStatus, Reminder, ReminderKind, ReminderStatus
from scheduling.reminders.services import reminders_dispatch_due
from tests.reminders.test_ics import calendar_of
from tests.scheduling.conftest import NOW, START, make_clinic

pytestmark = pytest.mark.django_db

CALL_TO_REBOOK = "To book another session, call us"


@pytest.fixture
def booked():
    clinic = make_clinic()
    plan = clinic.plan()
    plan.patient.reminder_consent = True
    plan.patient.save()
    proposal = services.course_propose(plan=plan, start_date=START, now=NOW)
    sessions = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, sessions=proposal.sessions)
    return clinic, plan, sessions


def cancellation_notices(sessions, now):
    mail.outbox.clear()
    reminders_dispatch_due(now=now)
    ids = {str(r.pk): r.appointment_id for r in Reminder.objects.filter(kind=ReminderKind.CANCELLATION)}
    return {ids[m.extra_headers["X-Reminder-Id"]]: m for m in mail.outbox if m.extra_headers["X-Reminder-Id"] in ids}


@pytest.mark.parametrize(
    ("change", "reason", "said"),
    [
        (
            "plan_pause",
            "Influenza",
            ["has been cancelled: your treatment plan is paused.", "When you are ready to continue, call us on"],
        ),
        (
            "plan_end",
            "Patient moved away",
            ["has been cancelled: your treatment plan has ended.", "If you have questions"],
        ),
    ],
)
def test_a_paused_or_ended_plans_sessions_say_so_and_what_next(booked, change, reason, said):
    clinic, plan, sessions = booked
    now = NOW + dt.timedelta(hours=1)
    getattr(services, change)(plan=plan, reason=reason, actor=clinic.prescriber.user, now=now)
    notices = cancellation_notices(sessions, now)
    assert set(notices) == {s.pk for s in sessions}
    for message in notices.values():
        assert all(words in message.body for words in said), message.body
        assert CALL_TO_REBOOK not in message.body and reason not in message.body
        # Each notice still cancels its own event in the patient's calendar.
        calendar = calendar_of(message)
        assert str(calendar["method"]) == "CANCEL" and len(calendar.walk("VEVENT")) == 1


def test_a_replaced_courses_sessions_say_new_times_follow(booked):
    clinic, plan, sessions = booked
    now = NOW + dt.timedelta(hours=1)
    new = services.plan_new_induction(
        plan=plan,
        start_date=START + dt.timedelta(days=28),
        reason="Relapse",
        actor=clinic.prescriber.user,
        now=now,
    )
    notices = cancellation_notices(sessions, now)
    assert set(notices) == {s.pk for s in sessions}
    for message in notices.values():
        assert "a new course of sessions replaces it." in message.body
        assert "The times of your new sessions come in a message of their own." in message.body
        assert CALL_TO_REBOOK not in message.body
    # ... and they do: each new session's confirmation went out in the same dispatch.
    confirmed = Reminder.objects.filter(
        appointment__in=new, kind=ReminderKind.CONFIRMATION, status=ReminderStatus.SENT
    ).count()
    assert confirmed == len(new) > 0


def test_a_session_cancelled_on_its_own_still_asks_the_patient_to_call_and_rebook(booked):
    clinic, _plan, sessions = booked
    now = NOW + dt.timedelta(hours=1)
    services.appointment_cancel(appointment=sessions[2], actor=clinic.front_desk.user, reason="Patient called", now=now)
    notices = cancellation_notices(sessions, now)
    assert set(notices) == {sessions[2].pk}
    assert CALL_TO_REBOOK in notices[sessions[2].pk].body


@pytest.mark.parametrize(
    ("change", "said"),
    [("pause", "your plan is paused. To continue call"), ("end", "your plan has ended. Questions:")],
)
def test_text_messages_say_it_too(booked, settings, sms_outbox, change, said):
    clinic, plan, sessions = booked
    plan.patient.preferred_channel = "sms"
    plan.patient.save()
    now = NOW + dt.timedelta(hours=1)
    if change == "pause":
        services.plan_pause(plan=plan, reason="Travel", actor=clinic.prescriber.user, now=now)
    else:
        services.plan_end(plan=plan, reason="Done", actor=clinic.prescriber.user, now=now)
    reminders_dispatch_due(now=now)
    cancelled = [m for m in sms_outbox if "is cancelled" in m.body]
    assert len(cancelled) == len(sessions)
    assert all(said in m.body and "To rebook" not in m.body for m in cancelled)


def cancellation_notice_of(appointment, now):
    mail.outbox.clear()
    reminders_dispatch_due(now=now)
    ids = {str(r.pk) for r in Reminder.objects.filter(kind=ReminderKind.CANCELLATION, appointment_id=appointment.pk)}
    [message] = [m for m in mail.outbox if m.extra_headers["X-Reminder-Id"] in ids]
    return message


@pytest.mark.parametrize("typed", ["Plan paused", "Plan ended"])
def test_a_single_session_cancelled_with_the_same_words_still_asks_to_rebook(booked, typed):
    """Rule: only a session released by a plan change (plan_pause / plan_end / plan_new_induction)
    is told its plan is paused or ended. A front-desk (or FHIR, or API) cancel of one session whose
    typed reason happens to read "Plan paused" leaves the plan active, so the patient must be asked
    to call and rebook, not told their treatment plan is paused/ended."""
    clinic, plan, sessions = booked
    now = NOW + dt.timedelta(hours=1)
    services.appointment_cancel(appointment=sessions[2], actor=clinic.front_desk.user, reason=typed, now=now)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE  # the plan itself did not change
    body = cancellation_notice_of(sessions[2], now).body
    assert "your treatment plan" not in body, body
    assert CALL_TO_REBOOK in body, body


def test_a_maintenance_session_a_longer_interval_no_longer_needs_says_so(settings):
    """A longer maintenance interval leaves fewer sessions before the review date: the ones it
    releases tell the patient the schedule changed, not to call and book another."""
    from scheduling.models import Phase, ReleasedWithPlan
    from tests.clinical_helpers import complete_session

    clinic = make_clinic()
    plan = clinic.plan()
    plan.patient.reminder_consent = True
    plan.patient.save()
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    for session in booked:
        complete_session(session)
    now = booked[-1].ends_at
    plan.refresh_from_db()
    assert plan.phase == Phase.MAINTENANCE
    before = plan.appointments.filter(phase=Phase.MAINTENANCE).exclude(status="cancelled").count()
    replan = services.plan_change_interval(
        plan=plan, days=42, reason="Relief lasts six weeks", actor=clinic.prescriber.user, now=now
    )
    assert replan.released and len(replan.released) < before
    mail.outbox.clear()
    reminders_dispatch_due(now=now)
    released_ids = {
        str(r.pk) for r in Reminder.objects.filter(kind=ReminderKind.CANCELLATION, appointment__in=replan.released)
    }
    notices = [m for m in mail.outbox if m.extra_headers["X-Reminder-Id"] in released_ids]
    assert len(notices) == len(replan.released)
    for message in notices:
        assert "your treatment schedule has changed and no longer needs it." in message.body
        assert CALL_TO_REBOOK not in message.body and "six weeks" not in message.body
    assert {a.released_with_plan for a in replan.released} == {ReleasedWithPlan.RESCHEDULED}
