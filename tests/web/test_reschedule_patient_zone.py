"""The reschedule page speaks the patient's own time zone, days as well as hours."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from tests.web.conftest import login

pytestmark = pytest.mark.django_db

TOKYO = ZoneInfo("Asia/Tokyo")


def test_each_free_time_is_listed_under_the_day_it_falls_on_in_the_patients_own_zone(client, web):
    """A patient living in Tokyo (clinic in New York) is shown each free time under the day it is on
    their own clock, as the hour beside it is; not under the clinic's day, which reads as a
    time a day earlier than the real one."""
    web.patient_a.time_zone = "Asia/Tokyo"
    web.patient_a.save(update_fields=["time_zone"])
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)

    response = client.get(reverse("web:portal-reschedule", args=[last.pk]))

    assert response.status_code == 200
    misplaced = [
        (day["day"], slot.start.astimezone(TOKYO))
        for day in response.context["days"]
        for slot in day["times"]
        if slot.start.astimezone(TOKYO).date() != day["day"]
    ]
    # As the patient reads it: a day's heading and the days its radio buttons' labels name.
    page = response.content.decode()
    headed = [
        (legend, label)
        for legend, body in re.findall(r"<legend>([^<]+)</legend>(.*?)</fieldset>", page, re.S)
        for label in re.findall(r'<span class="visually-hidden"> on ([^<]+)</span>', body)
        if label != legend
    ]
    assert misplaced == [] and headed == []
