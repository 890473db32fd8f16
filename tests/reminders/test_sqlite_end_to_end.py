"""The embedded default end to end: a SQLite database and Celery's filesystem
broker, with the same worker and beat that `python3 dev.py run` starts from
Procfile.dev. No PostgreSQL and no Redis anywhere in the path."""

from __future__ import annotations

import json

import pytest

from tests.reminders.processes import (
    outbox_messages,
    run_until_a_reminder_is_sent,
    start_celery,
    stop,
    wait_until_dispatching,
)
from tests.sqlite_shell import migrated_copy
from tests.test_embedded_default import embedded_env, manage

pytestmark = pytest.mark.celery


# Run inside `manage.py shell` against the SQLite database while the worker and beat run: one
# appointment whose 2 h reminder falls due a few seconds from now, quiet hours far from the clock.
SEED = """
import datetime as dt, json
from django.utils import timezone
from clinic.models import ReminderPolicy
from scheduling.models import Reminder, ReminderKind
from scheduling.reminders.services import reminders_schedule
from tests.reminders.helpers import make_appointment

now = timezone.now()
starts_at = (now + dt.timedelta(hours=2, seconds=3)).replace(microsecond=0)
appointment = make_appointment(starts_at=starts_at, patient_zone="Asia/Tokyo")
local_hour = now.astimezone(appointment.patient.zone).hour
ReminderPolicy.objects.filter(site=appointment.site).update(
    quiet_hours_start=dt.time((local_hour + 6) % 24), quiet_hours_end=dt.time((local_hour + 8) % 24)
)
appointment.site.reminder_policy.refresh_from_db()
reminders_schedule(appointment=appointment, now=now)
reminder = Reminder.objects.get(appointment=appointment, kind=ReminderKind.REMINDER)
print("SEEDED", json.dumps({"reminder": reminder.pk, "offset": reminder.offset_minutes}))
"""

REPORT = """
import json
from scheduling.models import Reminder
print("ROWS", json.dumps([
    {"id": r.pk, "kind": r.kind, "status": r.status, "attempts": r.attempts, "message_id": r.provider_message_id}
    for r in Reminder.objects.order_by("pk")
]))
"""


def shell(env: dict[str, str], code: str, marker: str) -> object:
    result = manage(env, "shell", "-c", code)
    line = next(line for line in result.stdout.splitlines() if line.startswith(marker + " "))
    return json.loads(line.split(" ", 1)[1])


def test_embedded_default_sends_a_due_reminder_once_through_worker_and_beat(tmp_path, tmp_path_factory):
    migrated_copy(tmp_path, tmp_path_factory)
    env = embedded_env(tmp_path)
    env.update(
        EMAIL_URL="filemail://",
        REMINDER_DISPATCH_EVERY="1",
        SMS_BACKEND="scheduling.reminders.sms.FileSmsBackend",
        DJANGO_TIME_ZONE="UTC",
    )
    for folder in ("broker", "broker-processed"):
        (tmp_path / folder).mkdir(exist_ok=True)

    # As Procfile.dev starts them.
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = start_celery(["worker", "--loglevel=info", "--pool=solo"], env, worker_log)
    beat = start_celery(["beat", "--loglevel=info"], env, beat_log)
    wait_until_dispatching(worker, beat, worker_log=worker_log, beat_log=beat_log, timeout=90)
    try:
        seeded = shell(env, SEED, "SEEDED")
        assert seeded["offset"] == 120
    except BaseException:
        stop(beat, worker)
        raise
    outbox = tmp_path / "outbox"
    run_until_a_reminder_is_sent(worker, beat, outbox=outbox, worker_log=worker_log, beat_log=beat_log, timeout=90)

    worker_log = (tmp_path / "worker.log").read_text()
    assert "Error binding parameter" not in worker_log
    subjects = sorted(m["Subject"].split(":")[0] for m in outbox_messages(outbox))
    assert subjects == ["Booked", "Reminder"]
    rows = {row["id"]: row for row in shell(env, REPORT, "ROWS")}
    reminder = rows[seeded["reminder"]]
    assert (reminder["status"], reminder["attempts"]) == ("sent", 1)
    [sent] = [m for m in outbox_messages(outbox) if m["Subject"].startswith("Reminder:")]
    assert reminder["message_id"] == sent["Message-ID"]
