"""SMS backends that misbehave, for the dispatcher's failure paths."""

from __future__ import annotations

from typing import ClassVar

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
