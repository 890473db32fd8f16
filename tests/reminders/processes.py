"""Real Celery processes for the end-to-end reminder tests (PostgreSQL + Redis, and the
embedded SQLite + filesystem broker): start them, wait for a reminder, stop them."""

from __future__ import annotations

import email
import subprocess
import sys
import time
from email.policy import default as email_policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def outbox_messages(folder: Path) -> list[email.message.EmailMessage]:
    """The messages Django's file email backend wrote into `folder`."""
    messages = []
    for log in sorted(folder.glob("*.log")):
        for chunk in log.read_text().split("-" * 79):
            if chunk.strip():
                messages.append(email.message_from_string(chunk.strip() + "\n", policy=email_policy))
    return messages


def start_celery(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [CELERY, "-A", "config", *args], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def run_until_a_reminder_is_sent(
    worker: subprocess.Popen, beat: subprocess.Popen, *, outbox: Path, worker_log: Path, beat_log: Path, timeout: float
) -> None:
    """Wait until a reminder is in `outbox`, let beat tick a few more times (nothing may go out twice),
    then stop both processes, whatever happened."""
    try:
        deadline = time.monotonic() + timeout
        reminders_out: list = []
        while time.monotonic() < deadline and not reminders_out:
            assert worker.poll() is None, worker_log.read_text()
            assert beat.poll() is None, beat_log.read_text()
            time.sleep(0.5)
            reminders_out = [m for m in outbox_messages(outbox) if m["Subject"].startswith("Reminder:")]
        assert reminders_out, "no reminder arrived:\n" + worker_log.read_text()[-4000:]
        time.sleep(4)  # several more beat ticks: nothing goes out twice
    finally:
        for process in (beat, worker):
            process.terminate()
        for process in (beat, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
