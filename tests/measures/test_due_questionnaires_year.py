"""The portal's "Before your next session" links, on the last days of the year."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.http import HttpRequest
from django.urls import reverse

from scheduling.models import AppointmentStatus
from tests.factories import PASSWORD, AppointmentFactory

pytestmark = pytest.mark.django_db
NEW_YEAR_SESSION = dt.datetime(2027, 1, 1, 15, tzinfo=dt.UTC)  # Friday 1 January 2027, 10:00 in New York
DEC_30 = dt.datetime(2026, 12, 30, 15, tzinfo=dt.UTC)


def test_the_due_questionnaires_note_names_the_year_of_a_session_in_the_next_year(client, world):
    """On 30 December the portal asks for the questionnaires "before Friday 1 January 2027, 10:00":
    a day in another year is shown with its year, as everywhere in the portal."""
    session = AppointmentFactory(
        patient=world.patient_a,
        chair=world.clinic.chairs[0],
        starts_at=NEW_YEAR_SESSION,
        status=AppointmentStatus.BOOKED,
    )
    with time_machine.travel(DEC_30, tick=False):
        assert client.login(request=HttpRequest(), username=world.user("patient_a").username, password=PASSWORD)
        page = client.get(reverse("home")).content.decode()
    section = re.search(r'data-testid="due-questionnaires".*?</section>', page, re.S)
    assert section is not None, "the due questionnaires are not shown"
    assert f"?appointment={session.pk}" in section.group(0)
    assert "2027" in section.group(0), section.group(0)
