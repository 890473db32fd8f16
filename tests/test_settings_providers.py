"""What the settings make of the mail and SMS providers and of the values DRF and the phone fields
read later: a wrong one stops start-up naming the variable, and `check --deploy` warns while
reminders would only be printed to the log.

Each case starts Django in a subprocess with a given environment, as tests/test_settings_env.py does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM_NUMBER",
    "API_THROTTLE_ANON",
    "API_THROTTLE_USER",
    "PHONENUMBER_DEFAULT_REGION",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
)
PRINT = "import django; django.setup(); from django.conf import settings; print({expr})"


def run(tmp_path: Path, args: list[str], **overrides: str) -> subprocess.CompletedProcess[str]:
    # tests/settings.py put its own choices (plain HTTP, no HSTS...) into os.environ: drop them too.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in CLEARED and not key.startswith("DJANGO_SECURE_") and not key.startswith("CELERY_")
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DJANGO_DEBUG="true", DATA_DIR=str(tmp_path))
    env.update(overrides)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_smtp_over_ssl_email_url_turns_ssl_on(tmp_path):
    """`smtp+ssl://` (implicit TLS, port 465, what many providers require) turns EMAIL_USE_SSL on:
    plain SMTP to port 465 would time out, or send the password and the reminders unencrypted."""
    result = run(
        tmp_path,
        ["-c", PRINT.format(expr="settings.EMAIL_PORT, settings.EMAIL_USE_SSL, settings.EMAIL_USE_TLS")],
        EMAIL_URL="smtp+ssl://clinic:secret@smtp.example.com:465",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "465 True False"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        # DRF parses the rate on every API request: each one (the token endpoint too) answers 500.
        ("API_THROTTLE_USER", "100 per minute"),
        ("API_THROTTLE_ANON", "lots/min"),
        # The phone field of the registration form cannot be built: the URLconf fails to import.
        ("PHONENUMBER_DEFAULT_REGION", "USA"),
        # Only found when the first text reminder is sent: every text then fails.
        ("SMS_BACKEND", "scheduling.reminders.sms.TwilloSmsBackend"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(tmp_path, variable, value):
    """README, Configuration: "A malformed value stops start-up with an error naming the variable",
    also for the values DRF, the phone fields and the first text reminder would read only later
    (API answers 500, every page 500, every text failing)."""
    result = run(tmp_path, ["-c", PRINT.format(expr="'started'")], **{variable: value})
    assert result.returncode != 0, f"started with {variable}={value!r}"
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


def test_production_does_not_print_reminders_to_the_log(tmp_path):
    """With debug off and no mail or SMS provider configured, the console backends would write every
    reminder (name, phone, session time, who drives the patient home) to the log and record it as
    sent: `check --deploy` warns about both."""
    result = run(
        tmp_path,
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x7Rk2pQv9LmN4sT8wY1zA6bC3dE5fG0hJ2kL4mN6pQ8rS0tUv3Wx5Yz7",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "clinic.W010" in output and "clinic.W011" in output, output


def test_check_deploy_is_quiet_once_both_providers_are_set(tmp_path):
    result = run(
        tmp_path,
        ["manage.py", "check", "--deploy"],
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x7Rk2pQv9LmN4sT8wY1zA6bC3dE5fG0hJ2kL4mN6pQ8rS0tUv3Wx5Yz7",
        EMAIL_URL="smtp+tls://clinic:secret@smtp.example.com:587",
        SITE_URL="https://clinic.example.com",
        TWILIO_ACCOUNT_SID="AC123",
        TWILIO_AUTH_TOKEN="token",
        TWILIO_FROM_NUMBER="+12025550100",
    )
    output = result.stdout + result.stderr
    assert "clinic.W010" not in output and "clinic.W011" not in output and "clinic.W012" not in output, output


def test_check_deploy_warns_while_reminder_links_point_at_localhost(tmp_path):
    result = run(
        tmp_path,
        ["manage.py", "check", "--deploy"],
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x7Rk2pQv9LmN4sT8wY1zA6bC3dE5fG0hJ2kL4mN6pQ8rS0tUv3Wx5Yz7",
        SITE_URL="http://localhost:8000",
    )
    assert "clinic.W012" in result.stdout + result.stderr
