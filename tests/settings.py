"""Settings for the test suite: real PostgreSQL and Redis, in-memory outboxes.

Defaults point at the local servers; DATABASE_URL and REDIS_URL override them."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("DJANGO_DEBUG", "false")
# The test client and the browser tests' live server speak plain HTTP.
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "false")
os.environ.setdefault("DJANGO_SECURE_HSTS_SECONDS", "0")

from config.settings import *  # noqa: F403
from config.settings import STORAGES
from tests.solver_limits import PROVING_TIME_LIMIT_SECONDS

# A test database is thrown away at the end: its commits need not wait for the WAL to reach the
# disk (PostgreSQL's synchronous_commit, durability only; what other sessions see is unchanged).
# Saves milliseconds per commit for the transactional tests, their live servers and the migrations.
DATABASES["default"]["OPTIONS"] = {  # noqa: F405
    **DATABASES["default"].get("OPTIONS", {}),  # noqa: F405
    "options": "-c synchronous_commit=off",
}

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "scheduling.reminders.sms.MemorySmsBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# Nothing is collected for the tests (the live server serves static files from the apps' folders):
# WhiteNoise then has no collected folder to scan, and no "No directory at" warning each time a
# test client loads the middleware (thousands of them, hiding any warning that matters).
STATIC_ROOT = None
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "1000/min", "user": "100000/min"}}  # noqa: F405

# Each pytest process keeps its cache keys apart (xdist workers share one Redis database), and
# tests/conftest.py empties them before every test: a counter such as the bad-token throttle
# must not carry from one test into the next.
CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": "test-" + os.environ.get("PYTEST_XDIST_WORKER", "main")}}  # noqa: F405

# Tasks queued with transaction.on_commit run in the test's own thread (the waitlist offer after a
# cancel); the reminders' end-to-end test runs a real worker and turns this off again.
CELERY_TASK_ALWAYS_EAGER = True

# Proving a day template or plan OPTIMAL must not depend on how busy the machine is: a CI box
# running two workers can be several times slower than a server (tests/solver_limits.py). Set
# here, not through the environment, so a developer's exported production value cannot shorten it.
DAY_TEMPLATE_TIME_LIMIT_SECONDS = PROVING_TIME_LIMIT_SECONDS
DAY_PLAN_TIME_LIMIT_SECONDS = PROVING_TIME_LIMIT_SECONDS
