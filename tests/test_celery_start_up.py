"""The Celery worker's start-up (config/celery.py): once Django and the tasks are loaded, the
parent freezes them out of the garbage collector's full collections before the prefork pool
forks its children, as the web process does (config/wsgi.py, tests/test_wsgi.py)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What `celery -A config worker` does before its pool starts, without a broker or a fork: the
# loader sets Django up and imports the task modules, then the worker sends worker_init (a
# stand-in sender: the Django fixup's receiver reads only its `app`).
PROBE = """
import gc, sys
from celery import signals
from config.celery import app
class Worker:
    pass
worker = Worker()
worker.app = app
app.loader.init_worker()
before = gc.get_freeze_count()
signals.worker_init.send(sender=worker)
print(before, gc.get_freeze_count(), "scheduling.tasks" in sys.modules and "config.urls" in sys.modules)
"""


def test_the_worker_freezes_its_loaded_application_before_the_pool_forks():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    before, after, loaded = result.stdout.split()
    assert int(before) == 0
    # Django, the apps, the tasks and the URLconf (reminder links reverse() it): tens of thousands
    # of objects the children share, none left for their full collections to walk.
    assert int(after) > 50_000
    assert loaded == "True"


# The tasks the pages enqueue by name must be known to the worker's loader, or each message is
# refused as an unregistered task (the reset page's mail, for one).
REGISTERED = """
from config.celery import app
app.loader.init_worker()
print(" ".join(sorted(name for name in app.tasks if not name.startswith("celery."))))
"""


def test_the_worker_knows_every_task_the_pages_enqueue():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", REGISTERED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    names = set(result.stdout.split())
    assert {
        "clinic.security.tasks.password_reset_send",
        "patients.tasks.email_change_notice_send",
        "patients.tasks.email_confirmation_send",
        "patients.tasks.email_change_link_send",
        "scheduling.tasks.dispatch_due_reminders",
    } <= names
