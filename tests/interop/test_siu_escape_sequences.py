"""SIU free text that already contains an HL7 escape sequence must still arrive as written."""

from __future__ import annotations

import datetime as dt

import hl7
import pytest

from interop.models import SiuMessage
from scheduling import services
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db


def test_a_backslash_escape_sequence_typed_in_free_text_reaches_the_receiver_unchanged(feed):
    """Free text that already looks like an HL7 escape sequence (a reason typed as "see C:\\T\\notes")
    reaches the receiver exactly as written: every backslash is escaped as \\E\\, so the EHR does not
    decode it into "see C:&notes"."""
    clinic = feed.clinic
    patient = PatientFactory(home_site=clinic.site, first_name="Ann", last_name="Smith")
    appointment = services.appointment_book(
        patient=patient,
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
        actor=clinic.front_desk.user,
        now=NOW,
    )
    reason = r"see C:\T\notes and \F\ folder"
    services.appointment_cancel(appointment=appointment, actor=clinic.front_desk.user, reason=reason, now=NOW)
    payload = SiuMessage.objects.get(appointment=appointment, event="S15").payload
    message = hl7.parse(payload)
    received = message.unescape(str(message.segment("SCH")[6][0][1]))
    assert received == f"Cancelled: {reason}", received
