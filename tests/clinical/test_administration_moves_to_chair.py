"""Recording the administration of a session still checked in (the nurse skipped the "in the chair"
step) moves it to the chair as that step would (`appointment_start`: status, in-chair time, the
history's "In chair"), timed at the infusion's start: the patient was in the chair by then. The
start is typed to the minute, so a start in the check-in's own minute takes the check-in's second:
the session never shows the patient in the chair before arriving."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from clinical import services
from clinical.models import Administration, ControlledSubstanceEntry
from scheduling.errors import InvalidInput
from scheduling.models import AppointmentStatus
from scheduling.services import appointment_start
from tests.clinical.conftest import SESSION_START
from tests.clinical.test_api_and_pages import _login
from tests.clinical_helpers import record_administration, record_pre_vitals

pytestmark = pytest.mark.django_db

STARTED = SESSION_START + dt.timedelta(minutes=5)
ENDED = SESSION_START + dt.timedelta(minutes=45)


def test_recording_the_administration_of_a_checked_in_session_puts_it_in_the_chair_at_the_infusions_start(ward):
    administration = record_administration(ward.session)
    session = ward.session
    session.refresh_from_db()
    assert session.status == AppointmentStatus.IN_CHAIR
    assert session.in_chair_at == administration.started_at == STARTED
    latest = session.history.order_by("-history_date", "-history_id").first()
    assert (latest.status, latest.history_change_reason, latest.history_user) == (
        AppointmentStatus.IN_CHAIR,
        "In chair",
        ward.nurse.user,
    )


def _checked_in_at_the_minutes_40th_second(ward) -> dt.datetime:
    """Checked in at 10:05:40; pre-infusion vitals at 10:05:50; a start typed as 10:05 is in order."""
    checked_in = STARTED + dt.timedelta(seconds=40)
    ward.session.checked_in_at = checked_in
    ward.session.save(update_fields=["checked_in_at"])
    record_pre_vitals(ward.session, ward.nurse.user, now=checked_in + dt.timedelta(seconds=10))
    return checked_in


def _give(ward, started_at: dt.datetime, lot_number: str = "KX-1") -> Administration:
    return services.administration_record(
        appointment=ward.session,
        route="iv",
        dose_mg_per_kg=Decimal("0.5"),
        weight_kg=Decimal("70"),
        total_mg=Decimal("35"),
        started_at=started_at,
        ended_at=ENDED,
        lot_number=lot_number,
        given_by=ward.nurse,
        actor=ward.nurse.user,
        now=ENDED,
    )


def test_a_start_typed_in_the_check_ins_minute_puts_the_patient_in_the_chair_at_the_check_in(ward):
    checked_in = _checked_in_at_the_minutes_40th_second(ward)
    administration = _give(ward, STARTED)
    ward.session.refresh_from_db()
    assert administration.started_at == STARTED  # the register keeps the start as typed
    assert ward.session.in_chair_at == checked_in, (
        f"in the chair at {ward.session.in_chair_at:%H:%M:%S}, before the check-in at {checked_in:%H:%M:%S}"
    )


def test_a_start_corrected_to_the_check_ins_minute_keeps_the_in_chair_time_after_the_check_in(ward):
    checked_in = _checked_in_at_the_minutes_40th_second(ward)
    administration = _give(ward, STARTED + dt.timedelta(minutes=10))
    ward.session.refresh_from_db()
    assert ward.session.in_chair_at == STARTED + dt.timedelta(minutes=10)
    entry = ControlledSubstanceEntry.objects.filter(administration=administration).latest("pk")
    services.controlled_substance_correct(
        entry=entry, started_at=STARTED, reason="start mistyped", actor=ward.nurse.user, now=ENDED
    )
    ward.session.refresh_from_db()
    assert ward.session.in_chair_at == checked_in
    # Taken from the start, it still follows the next correction.
    entry = ControlledSubstanceEntry.objects.filter(administration=administration).latest("pk")
    later = STARTED + dt.timedelta(minutes=3)
    services.controlled_substance_correct(
        entry=entry, started_at=later, reason="start was 10:08", actor=ward.nurse.user, now=ENDED
    )
    ward.session.refresh_from_db()
    assert ward.session.in_chair_at == later


def test_a_session_already_in_the_chair_keeps_its_in_chair_time(ward):
    record_pre_vitals(ward.session, ward.nurse.user, now=SESSION_START)
    put_in_chair = SESSION_START + dt.timedelta(minutes=2)
    appointment_start(appointment=ward.session, actor=ward.nurse.user, now=put_in_chair)
    _give(ward, STARTED)
    ward.session.refresh_from_db()
    assert (ward.session.status, ward.session.in_chair_at) == (AppointmentStatus.IN_CHAIR, put_in_chair)


def test_a_refused_administration_leaves_the_session_checked_in(ward):
    record_pre_vitals(ward.session, ward.nurse.user, now=SESSION_START)
    with pytest.raises(InvalidInput):
        _give(ward, STARTED, lot_number="  ")
    ward.session.refresh_from_db()
    assert (ward.session.status, ward.session.in_chair_at) == (AppointmentStatus.CHECKED_IN, None)
    assert not Administration.objects.exists()


def test_on_the_page_the_session_shows_in_the_chair_once_its_administration_is_recorded(client, ward):
    record_pre_vitals(ward.session, ward.nurse.user, now=SESSION_START)
    url = reverse("clinical:session", args=[ward.session.pk])
    with time_machine.travel(ENDED, tick=False):
        _login(client, ward.nurse)
        page = client.post(
            url,
            {
                "form": "administration",
                "route": "iv",
                "dose_mg_per_kg": "0.5",
                "weight_kg": "70",
                "total_mg": "35",
                "lot_number": "KX-1",
                "given_by": ward.nurse.pk,
                "started_at": "2026-03-02T10:05",  # New York
                "ended_at": "2026-03-02T10:45",
            },
            follow=True,
        )
    body = page.content.decode()
    assert "Administration recorded in the controlled-substance log." in body, body[:3000]
    assert 'data-testid="session-status">In chair<' in body
    assert "Start session</button>" not in body  # the chair step is done
