"""The beat task is thin: it runs the dispatcher."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduling.models import Reminder, ReminderStatus
from scheduling.reminders.services import reminders_schedule
from scheduling.tasks import dispatch_due_reminders
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def test_dispatch_task_sends_what_is_due(site):
    patient = factories.PatientFactory(home_site=site)
    now = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
    appointment = factories.AppointmentFactory(
        patient=patient, chair=factories.ChairFactory(site=site), starts_at=now + dt.timedelta(days=3)
    )
    reminders_schedule(appointment=appointment, now=now)
    with time_machine.travel(now, tick=False):
        totals = dispatch_due_reminders.apply().get()
    assert totals["sent"] == 1  # the booking confirmation; the reminders are not due yet
    assert Reminder.objects.filter(status=ReminderStatus.SENT).count() == 1
