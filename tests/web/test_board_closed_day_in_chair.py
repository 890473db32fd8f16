"""A site closed all day by a closure typed in during that day (a burst pipe, a power cut) while a
patient is already in a chair: the nurses are still at work with that patient. The board must not
drop the nurses' shifts and the nurse load, nor tell the desk that the session in the chair is "to
be moved to an open day or cancelled"; only the sessions not yet begun are."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import Closure
from scheduling.models import Appointment, AppointmentStatus
from tests.web.conftest import START, frozen, login, web  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def _legend(html: str) -> str:
    return html.split('data-testid="legend"')[1].split("</p>")[0]


def test_a_day_closed_while_a_patient_is_in_a_chair_still_draws_the_nurses_on_shift(client, web):  # noqa: F811
    zone = web.clinic.site.zone
    first = min(
        (a for a in Appointment.objects.select_related("chair") if a.starts_at.astimezone(zone).date() == START),
        key=lambda a: a.starts_at,
    )
    # Twenty minutes into the day's first session: the patient is in the chair.
    during = first.starts_at + dt.timedelta(minutes=20)
    Appointment.objects.filter(pk=first.pk).update(status=AppointmentStatus.IN_CHAIR)
    with time_machine.travel(during, tick=False):
        # The site closes for the rest of the day, typed in as a closure over the whole day.
        Closure.objects.create(
            site=web.clinic.site,
            reason="Burst pipe",
            starts_at=dt.datetime.combine(START, dt.time(0), tzinfo=zone),
            ends_at=dt.datetime.combine(START + dt.timedelta(days=1), dt.time(0), tzinfo=zone),
        )
        login(client, web.nurse.user)
        response = client.get(reverse("web:board"), {"day": START.isoformat(), "site": web.clinic.site.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="session"' in html
    # The nurse caring for the patient in the chair is on shift, and the nurse load is what it is.
    assert 'data-testid="shift-band"' in html, "no nurse shift drawn while a patient is in a chair"
    assert 'data-testid="hands-on"' in html
    # A session under way is not one to move or cancel: the legend says which are.
    legend = _legend(html)
    assert "one under way or done stays as it is" in legend, legend
    assert "one not yet begun, still booked on this closed day, is to be moved" in legend, legend
