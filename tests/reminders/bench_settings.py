"""Settings for the Celery workers that bench/reminders_dispatch.py starts: the
test settings, a mail backend with a provider's latency, and a queue of the
benchmark's own."""

import os

from tests.settings import *  # noqa: F403

EMAIL_BACKEND = "tests.reminders.backends.SlowEmailBackend"
SEND_LATENCY_SECONDS = float(os.environ.get("BENCH_SEND_LATENCY_MS", "0")) / 1000
ROOT_URLCONF = "tests.reminders.urls"
SITE_URL = "https://clinic.example"
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("BENCH_QUEUE", "bench-reminders")
# The test settings run tasks eagerly (in the caller); the bench's workers must queue the helpers a
# backlog fans out to, as production does, or each helper runs inside the worker that enqueued it.
CELERY_TASK_ALWAYS_EAGER = False
