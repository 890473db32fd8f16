"""Settings for the Celery worker and beat that the end-to-end test starts as
subprocesses: the test settings, with outboxes on disk (the test reads them)
and a queue of their own (other suites may share the Redis broker)."""

import os

from tests.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["REMINDERS_E2E_OUTBOX"]
SMS_BACKEND = "scheduling.reminders.sms.FileSmsBackend"
SMS_FILE_PATH = os.environ["REMINDERS_E2E_OUTBOX"]
ROOT_URLCONF = "tests.reminders.urls"
SITE_URL = "https://clinic.example"
CELERY_TASK_DEFAULT_QUEUE = os.environ["REMINDERS_E2E_QUEUE"]
CELERY_TASK_ALWAYS_EAGER = False  # a real worker and beat, through the Redis broker
