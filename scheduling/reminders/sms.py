"""Text-message backends, chosen by settings.SMS_BACKEND (a dotted class path),
in the manner of Django's email backends. Each `send` returns the provider's
message id or raises."""

from __future__ import annotations

import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    message_id: str


class BaseSmsBackend:
    def send(self, *, to: str, body: str) -> str:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    """Development: prints each message."""

    def send(self, *, to: str, body: str) -> str:
        message_id = f"console-{uuid.uuid4().hex}"
        sys.stdout.write(f"SMS to {to} ({message_id}):\n{body}\n{'-' * 40}\n")
        sys.stdout.flush()
        return message_id


class FileSmsBackend(BaseSmsBackend):
    """Development and cross-process tests: one file per message in SMS_FILE_PATH."""

    def send(self, *, to: str, body: str) -> str:
        message_id = f"file-{uuid.uuid4().hex}"
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{message_id}.txt").write_text(f"To: {to}\n\n{body}\n", encoding="utf-8")
        return message_id


class MemorySmsBackend(BaseSmsBackend):
    """Tests: messages collect in the class-level `outbox`, like django.core.mail.outbox."""

    outbox: ClassVar[list[SmsMessage]] = []
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def send(self, *, to: str, body: str) -> str:
        with self._lock:
            message_id = f"memory-{uuid.uuid4().hex}"
            self.outbox.append(SmsMessage(to=to, body=body, message_id=message_id))
        return message_id


class TwilioSmsBackend(BaseSmsBackend):
    """Production: Twilio's REST API through its own library. Errors (including
    twilio.base.exceptions.TwilioRestException) propagate, so the dispatcher
    records them and retries."""

    def __init__(self, *, client: Any = None) -> None:
        account_sid = settings.TWILIO_ACCOUNT_SID
        auth_token = settings.TWILIO_AUTH_TOKEN
        self.from_number = settings.TWILIO_FROM_NUMBER
        if not (account_sid and auth_token and self.from_number):
            raise ImproperlyConfigured(
                "TwilioSmsBackend needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER."
            )
        if client is None:
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            # Without a timeout a hung provider call could outlive the reminder's lease.
            http_client = TwilioHttpClient(timeout=settings.REMINDER_SEND_TIMEOUT_SECONDS)
            client = Client(account_sid, auth_token, http_client=http_client)
        self.client = client

    def send(self, *, to: str, body: str) -> str:
        message = self.client.messages.create(to=to, from_=self.from_number, body=body)
        return str(message.sid)


def get_sms_backend() -> BaseSmsBackend:
    backend_class = import_string(settings.SMS_BACKEND)
    return backend_class()
