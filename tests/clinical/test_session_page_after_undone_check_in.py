"""The session page after a check-in was undone and the patient checked in again."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.http import HttpRequest
from django.urls import reverse

from scheduling import services as scheduling
from tests.clinical.conftest import AT_CHAIR
from tests.clinical_helpers import record_pre_vitals
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _login(client, staff) -> None:
    assert client.login(request=HttpRequest(), username=staff.user.username, password=PASSWORD)


def test_after_a_new_check_in_the_page_asks_for_vitals_not_for_a_prescribers_clearance(client, ward):
    """After a check-in is undone and the patient checked in again, the start is held for want of
    this visit's vitals: the page asks the nurse for them, and offers no prescriber's clearance
    (which answers readings, not their absence, and would be refused)."""
    record_pre_vitals(ward.session, ward.nurse.user, now=AT_CHAIR)
    scheduling.appointment_undo_check_in(
        appointment=ward.session, actor=ward.front_desk.user, reason="Checked in the wrong patient", now=AT_CHAIR
    )
    later = AT_CHAIR + dt.timedelta(minutes=20)
    scheduling.appointment_check_in(appointment=ward.session, actor=ward.front_desk.user, now=later)
    url = reverse("clinical:session", args=[ward.session.pk])
    with time_machine.travel(later + dt.timedelta(minutes=1), tick=False):
        _login(client, ward.nurse)
        nurse_page = client.get(url).content.decode()
        assert "Record pre-infusion vitals first" in nurse_page  # the start is held for that
        client.logout()
        _login(client, ward.prescriber)
        prescriber_page = client.get(url).content.decode()
        refused = client.post(url, {"form": "clear", "reason": "Looked fine earlier"})
    assert refused.status_code == 409  # the form the page offers cannot be used
    assert "A prescriber must clear the start" not in nurse_page, "the nurse is sent to a prescriber"
    assert "Clear to start</button>" not in prescriber_page, "the prescriber is offered a clearance that is refused"
