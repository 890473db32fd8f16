"""A real Celery beat and worker (subprocesses) against real Redis and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import email
import os
import uuid

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from clinic.models import ReminderPolicy
from scheduling.models import Reminder, ReminderKind, ReminderStatus
from scheduling.reminders.services import reminders_schedule
from tests.reminders.helpers import make_appointment
from tests.reminders.processes import (
    outbox_messages,
    run_until_a_reminder_is_sent,
    start_celery,
    stop,
    wait_until_dispatching,
)

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

PATIENT_ZONE = "Asia/Tokyo"


def plain_text(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_booked_session_gets_its_reminder_once_through_beat_and_worker(tmp_path):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    queue = f"reminders-e2e-{uuid.uuid4().hex}"
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.reminders.celery_settings",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "REMINDER_DISPATCH_EVERY": "1",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "beat-schedule"),
        "REMINDERS_E2E_OUTBOX": str(outbox),
        "REMINDERS_E2E_QUEUE": queue,
    }
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = start_celery(
        [
            "worker",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--concurrency",
            "2",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ],
        env,
        worker_log,
    )
    beat = start_celery(["beat", "-l", "INFO"], env, beat_log)
    try:
        wait_until_dispatching(worker, beat, worker_log=worker_log, beat_log=beat_log, timeout=120)

        now = timezone.now()
        # Two hours and a little from now: the 2 h reminder falls due while beat and the worker run.
        starts_at = (now + dt.timedelta(hours=2, seconds=3)).replace(microsecond=0)
        appointment = make_appointment(starts_at=starts_at, patient_zone=PATIENT_ZONE)
        local_now = now.astimezone(appointment.patient.zone)
        # Keep quiet hours well away from the real clock, whatever time the suite runs.
        ReminderPolicy.objects.filter(site=appointment.site).update(
            quiet_hours_start=dt.time((local_now.hour + 6) % 24), quiet_hours_end=dt.time((local_now.hour + 8) % 24)
        )
        appointment.site.reminder_policy.refresh_from_db()
        reminders_schedule(appointment=appointment, now=now)
        reminder = Reminder.objects.get(appointment=appointment, kind=ReminderKind.REMINDER)
        assert reminder.offset_minutes == 120  # the 72 h and 24 h reminders were already past

        run_until_a_reminder_is_sent(worker, beat, outbox=outbox, worker_log=worker_log, beat_log=beat_log, timeout=120)
    finally:
        stop(beat, worker)  # already stopped unless something above failed
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        broker.delete(queue, f"_kombu.binding.{queue}")

    messages = outbox_messages(outbox)
    subjects = sorted(m["Subject"].split(":")[0] for m in messages)
    assert subjects == ["Booked", "Reminder"]
    [sent] = [m for m in messages if m["Subject"].startswith("Reminder:")]
    local_start = starts_at.astimezone(appointment.patient.zone)
    expected = f"{local_start:%A} {local_start.day} {local_start:%B %Y} at {local_start:%H:%M} ({PATIENT_ZONE})"
    assert expected in plain_text(sent)
    assert sent["To"] == appointment.patient.email
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == (ReminderStatus.SENT, 1)
    assert reminder.provider_message_id == sent["Message-ID"]
    assert reminder.sent_at >= reminder.due_at
