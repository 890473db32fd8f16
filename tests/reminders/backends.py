"""SMS backends that misbehave, for the dispatcher's failure paths."""

from __future__ import annotations

import time
from typing import ClassVar

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

from scheduling.reminders.sms import BaseSmsBackend, MemorySmsBackend


class FailingSmsBackend(BaseSmsBackend):
    calls: ClassVar[int] = 0

    def send(self, *, to: str, body: str) -> str:
        type(self).calls += 1
        raise ConnectionError("provider unreachable")


class FailsOnceSmsBackend(MemorySmsBackend):
    failed: ClassVar[bool] = False

    def send(self, *, to: str, body: str) -> str:
        if not type(self).failed:
            type(self).failed = True
            raise ConnectionError("provider unreachable")
        return super().send(to=to, body=body)


class SlowEmailBackend(BaseEmailBackend):
    """For the dispatch benchmark: accepts every message after SEND_LATENCY_SECONDS,
    the round trip a real SMTP server or SMS provider takes, and keeps nothing."""

    def send_messages(self, email_messages) -> int:  # type: ignore[no-untyped-def]
        latency = getattr(settings, "SEND_LATENCY_SECONDS", 0.0)
        for _ in email_messages:
            if latency:
                time.sleep(latency)
        return len(email_messages)
