"""SMS backends behind SMS_BACKEND, including the Twilio adapter through Twilio's own library."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response

from scheduling.reminders.sms import FileSmsBackend, MemorySmsBackend, TwilioSmsBackend, get_sms_backend


class RecordingTwilioHttp(HttpClient):
    """Stands in for the network only; the twilio library builds and parses everything else."""

    def __init__(self, status: int, payload: dict) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False)
        self.status, self.payload, self.requests = status, payload, []

    def request(
        self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False
    ):
        self.requests.append({"method": method, "url": url, "data": data, "auth": auth})
        return Response(self.status, json.dumps(self.payload))


@pytest.fixture
def twilio_settings(settings):
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    return settings


def twilio_backend(http: RecordingTwilioHttp) -> TwilioSmsBackend:
    from twilio.rest import Client

    return TwilioSmsBackend(client=Client("AC" + "0" * 32, "token", http_client=http))


def test_twilio_backend_posts_the_message_and_returns_its_sid(twilio_settings):
    http = RecordingTwilioHttp(201, {"sid": "SM123", "status": "queued", "to": "+12025550199", "body": "hi"})
    assert twilio_backend(http).send(to="+12025550199", body="hi") == "SM123"
    [request] = http.requests
    assert request["method"] == "POST"
    assert request["url"].endswith("/Accounts/AC" + "0" * 32 + "/Messages.json")
    assert request["data"] == {"To": "+12025550199", "From": "+15005550006", "Body": "hi"}


def test_twilio_backend_raises_the_providers_error(twilio_settings):
    http = RecordingTwilioHttp(400, {"code": 21211, "message": "The 'To' number is not a valid phone number."})
    with pytest.raises(TwilioRestException, match="not a valid phone number"):
        twilio_backend(http).send(to="+1", body="hi")


def test_twilio_backend_without_credentials_refuses_to_start(settings):
    settings.TWILIO_ACCOUNT_SID = ""
    with pytest.raises(ImproperlyConfigured, match="TWILIO_ACCOUNT_SID"):
        TwilioSmsBackend()


def test_sms_backend_comes_from_settings(settings):
    settings.SMS_BACKEND = "scheduling.reminders.sms.FileSmsBackend"
    assert isinstance(get_sms_backend(), FileSmsBackend)


def test_file_backend_writes_one_file_per_message(settings, tmp_path):
    settings.SMS_FILE_PATH = str(tmp_path)
    message_id = FileSmsBackend().send(to="+12025550199", body="Session Fri 10:00")
    assert (tmp_path / f"{message_id}.txt").read_text() == "To: +12025550199\n\nSession Fri 10:00\n"


def test_memory_backend_collects_messages(sms_outbox):
    message_id = MemorySmsBackend().send(to="+12025550199", body="hi")
    assert [(m.to, m.body, m.message_id) for m in sms_outbox] == [("+12025550199", "hi", message_id)]


def test_twilio_calls_time_out_well_within_the_reminder_lease(twilio_settings):
    twilio_settings.REMINDER_SEND_TIMEOUT_SECONDS = 12
    backend = TwilioSmsBackend()
    assert backend.client.http_client.timeout == 12
    assert twilio_settings.REMINDER_LEASE_SECONDS >= 12 * 2


def test_smtp_calls_time_out_well_within_the_reminder_lease():
    from django.conf import settings
    from django.core.mail.backends.smtp import EmailBackend

    assert EmailBackend().timeout == settings.REMINDER_SEND_TIMEOUT_SECONDS
    assert settings.REMINDER_SEND_TIMEOUT_SECONDS * 2 <= settings.REMINDER_LEASE_SECONDS


def test_a_send_timeout_not_well_below_the_lease_refuses_to_start(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_DEBUG": "true",
        "DATA_DIR": str(tmp_path),
        "REMINDER_LEASE_SECONDS": "60",
        "REMINDER_SEND_TIMEOUT_SECONDS": "45",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings"], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "REMINDER_SEND_TIMEOUT_SECONDS" in result.stderr
