"""Measurement-based care (domain.md, "A session": a short questionnaire before each session) rides
on the reminder the day before; the reminder offsets are the clinic's own (domain.md: "where it
gives a number, that number is a default a clinic can change, not a constant in code"): whatever
the offsets, a reminder inside the questionnaire's window carries the link
(rendering.questionnaire_offset_minutes)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from scheduling.reminders.services import reminders_dispatch_due, reminders_schedule
from tests.reminders.helpers import UTC, make_appointment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock_at_now():
    """The details change at NOW (the receivers plan from the clock)."""
    with time_machine.travel(NOW, tick=False):
        yield


NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)  # Sunday 10:00 in New York
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York


def test_a_clinic_that_reminds_48_and_2_hours_before_still_asks_for_the_pre_session_questionnaire():
    appointment = make_appointment(starts_at=SESSION, offsets_hours=[48, 2])
    reminders_schedule(appointment=appointment, now=NOW)
    reminders_dispatch_due(now=SESSION - dt.timedelta(hours=48))
    reminders_dispatch_due(now=SESSION - dt.timedelta(hours=2))

    reminders = [m for m in mail.outbox if m.subject.startswith("Reminder")]
    assert len(reminders) == 2
    assert any(f"/me/questionnaires/phq9/?appointment={appointment.pk}" in m.body for m in reminders), (
        "no reminder asks for the questionnaire: the link rides only on a reminder exactly 24 h before"
    )


@pytest.mark.parametrize(
    ("offsets", "minutes"),
    [([72, 24, 2], 24 * 60), ([48, 2], 48 * 60), ([12, 2], 12 * 60), ([96, 2], 2 * 60), ([96], None), ([], None)],
)
def test_the_reminder_that_asks_is_the_last_a_day_or_more_before_inside_the_window(offsets, minutes):
    from scheduling.reminders.rendering import questionnaire_offset_minutes

    assert questionnaire_offset_minutes(offsets) == minutes
