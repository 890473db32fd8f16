"""A malformed environment variable stops start-up with a message naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
START_DJANGO = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
# Variables the suite or the developer may have set that would mask what each case sets.
CLEARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "DJANGO_TIME_ZONE",
    "SITE_URL",
    "EMAIL_URL",
    "SMS_BACKEND",
    "TWILIO_ACCOUNT_SID",
)
PRINT_SMS_BACKEND = "import django; django.setup(); from django.conf import settings; print(settings.SMS_BACKEND)"


def start_django(tmp_path: Path, *, code: str = START_DJANGO, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DJANGO_DEBUG="true", DATA_DIR=str(tmp_path))
    env.update(overrides)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_good_embedded_environment_starts(tmp_path):
    result = start_django(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DJANGO_DEBUG", "maybe"),
        ("DATABASE_URL", "mysqlx://user@db/clinic"),
        ("CELERY_BROKER_URL", "ftp://broker.example/queue"),
        ("DJANGO_TIME_ZONE", "Mars/Base"),
        ("SITE_URL", "clinic.example"),
        ("REMINDER_DISPATCH_EVERY", "often"),
        ("REMINDER_DISPATCH_EVERY", "0"),
        ("DJANGO_SECURE_COOKIES", "sometimes"),
        ("FHIR_PROPOSAL_MAX_AGE_HOURS", "1"),  # an id would lapse within the hour it was given out in
    ],
)
def test_bad_value_stops_startup_naming_the_variable(tmp_path, variable, value):
    result = start_django(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


def test_missing_secret_key_without_debug_stops_startup(tmp_path):
    env_without_key = {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": ""}
    result = start_django(tmp_path, **env_without_key)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def _manage(tmp_path: Path, *args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    cleared = (*CLEARED, "DJANGO_DEBUG", "DJANGO_SECRET_KEY", "DJANGO_SETTINGS_MODULE")
    env = {key: value for key, value in os.environ.items() if key not in cleared}
    env.update(DATA_DIR=str(tmp_path), **overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_bare_manage_py_works_on_a_fresh_checkout(tmp_path):
    """No environment at all: manage.py is the developer's tool and defaults to debug."""
    result = _manage(tmp_path, "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_manage_py_with_debug_off_still_demands_a_secret_key(tmp_path):
    result = _manage(tmp_path, "check", DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "backend"),
    [
        ({}, "scheduling.reminders.sms.ConsoleSmsBackend"),
        ({"TWILIO_ACCOUNT_SID": "AC0123"}, "scheduling.reminders.sms.TwilioSmsBackend"),
        # As compose passes it when the operator sets nothing: empty is unset, so credentials still decide.
        ({"SMS_BACKEND": "", "TWILIO_ACCOUNT_SID": "AC0123"}, "scheduling.reminders.sms.TwilioSmsBackend"),
        ({"SMS_BACKEND": ""}, "scheduling.reminders.sms.ConsoleSmsBackend"),
        (
            {"SMS_BACKEND": "scheduling.reminders.sms.ConsoleSmsBackend", "TWILIO_ACCOUNT_SID": "AC0123"},
            "scheduling.reminders.sms.ConsoleSmsBackend",
        ),
    ],
)
def test_twilio_credentials_choose_the_sms_backend_unless_one_is_named(tmp_path, overrides, backend):
    result = start_django(tmp_path, code=PRINT_SMS_BACKEND, **overrides)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == backend


def test_retired_secret_keys_are_read_as_fallbacks(tmp_path):
    """After a rotation the old key goes in DJANGO_SECRET_KEY_FALLBACKS: what was signed with it (a
    patient's link, a FHIR page link) is still read while it lives out (tests/interop/test_fhir_key_rotation.py)."""
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)"
    result = start_django(tmp_path, code=code, DJANGO_SECRET_KEY_FALLBACKS="old-one,older-one")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['old-one', 'older-one']"
    assert start_django(tmp_path, code=code).stdout.strip() == "[]"
