"""Real Celery processes for the end-to-end reminder tests (PostgreSQL + Redis, and the
embedded SQLite + filesystem broker): start them, wait until beat's dispatcher runs on the
worker, wait for a reminder, stop them."""

from __future__ import annotations

import email
import re
import subprocess
import sys
import time
from email.policy import default as email_policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
POLL_SECONDS = 0.1
# Dispatcher runs the worker finishes after a reminder is out (beat ticks every second in these
# tests): the sending run itself and at least two runs that start after it has committed.
TICKS_AFTER_THE_REMINDER = 3
_DISPATCHED = re.compile(r"Task scheduling\.tasks\.dispatch_due_reminders\[[^\]]+\] succeeded")


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


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def dispatcher_runs(worker_log: Path) -> int:
    """How many of beat's dispatcher tasks the worker has finished, by its log."""
    return len(_DISPATCHED.findall(worker_log.read_text())) if worker_log.exists() else 0


def _wait(
    done,
    worker: subprocess.Popen,
    beat: subprocess.Popen,
    *,
    worker_log: Path,
    beat_log: Path,
    timeout: float,
    what: str,
):
    deadline = time.monotonic() + timeout
    while not (found := done()):
        assert worker.poll() is None, worker_log.read_text()
        assert beat.poll() is None, beat_log.read_text()
        assert time.monotonic() < deadline, f"{what} within {timeout} s:\n" + worker_log.read_text()[-4000:]
        time.sleep(POLL_SECONDS)
    return found


def wait_until_dispatching(
    worker: subprocess.Popen, beat: subprocess.Popen, *, worker_log: Path, beat_log: Path, timeout: float
) -> None:
    """Wait until the worker has finished a dispatcher task beat sent: both are up and the path from
    beat through the broker to the worker works, so a reminder that falls due from now on falls due
    while they run. Stops both processes if that does not happen."""
    try:
        _wait(
            lambda: dispatcher_runs(worker_log) > 0,
            worker,
            beat,
            worker_log=worker_log,
            beat_log=beat_log,
            timeout=timeout,
            what="the worker ran no dispatcher task",
        )
    except BaseException:
        stop(beat, worker)
        raise


def run_until_a_reminder_is_sent(
    worker: subprocess.Popen, beat: subprocess.Popen, *, outbox: Path, worker_log: Path, beat_log: Path, timeout: float
) -> None:
    """Wait until a reminder is in `outbox`, then until the worker has finished
    TICKS_AFTER_THE_REMINDER more dispatcher runs (nothing may go out twice), then stop both
    processes, whatever happened."""
    try:
        _wait(
            lambda: [m for m in outbox_messages(outbox) if m["Subject"].startswith("Reminder:")],
            worker,
            beat,
            worker_log=worker_log,
            beat_log=beat_log,
            timeout=timeout,
            what="no reminder arrived",
        )
        runs = dispatcher_runs(worker_log)
        _wait(
            lambda: dispatcher_runs(worker_log) >= runs + TICKS_AFTER_THE_REMINDER,
            worker,
            beat,
            worker_log=worker_log,
            beat_log=beat_log,
            timeout=60,
            what=f"the worker did not finish {TICKS_AFTER_THE_REMINDER} more dispatcher runs",
        )
    finally:
        stop(beat, worker)
