from __future__ import annotations

import pytest

from scheduling.reminders.sms import MemorySmsBackend


@pytest.fixture(autouse=True)
def reminder_links(settings):
    """Messages carry confirm/cancel links, so the reminder urls must resolve."""
    settings.ROOT_URLCONF = "tests.reminders.urls"
    settings.SITE_URL = "https://clinic.example"


@pytest.fixture(autouse=True)
def sms_outbox():
    MemorySmsBackend.outbox.clear()
    yield MemorySmsBackend.outbox
    MemorySmsBackend.outbox.clear()
