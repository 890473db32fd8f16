"""CELERY_TASK_ALWAYS_EAGER (no worker) and the HL7 feed's delivery, queued by name."""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.django_db


def test_always_eager_delivers_a_bookings_siu_message_inline(feed, django_capture_on_commit_callbacks, listener):
    """The same for the HL7 feed: with no worker, the booking's S12 reaches the EHR when it commits."""
    from interop.models import SiuMessage, SiuStatus
    from scheduling import services
    from tests.scheduling.conftest import NOW as FEED_NOW

    clinic = feed.clinic
    with django_capture_on_commit_callbacks(execute=True):
        booked = services.appointment_book(
            patient=clinic.plan().patient,
            site=clinic.site,
            starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
            actor=clinic.front_desk.user,
            now=FEED_NOW,
        )
    message = SiuMessage.objects.get(appointment=booked, event="S12")
    assert message.status == SiuStatus.SENT, f"still {message.status}: the delivery went to the broker"
    assert len(listener.messages()) == 1
