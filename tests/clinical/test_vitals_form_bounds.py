"""The vitals form refuses an implausible reading with the service's own message and range."""

from __future__ import annotations

import pytest
from django.http import HttpRequest
from django.urls import reverse

from clinical.forms import VitalsForm
from clinical.services import PLAUSIBLE
from tests.factories import PASSWORD

NORMAL = {"phase": "pre", "systolic": 124, "diastolic": 78, "heart_rate": 72, "spo2": 98}
EXPECTED = {
    ("systolic", 500): "Systolic pressure 500 is not plausible; expected 60–260.",
    ("systolic", 30): "Systolic pressure 30 is not plausible; expected 60–260.",
    ("diastolic", 10): "Diastolic pressure 10 is not plausible; expected 30–160.",
    ("diastolic", 170): "Diastolic pressure 170 is not plausible; expected 30–160.",
    ("heart_rate", 300): "Heart rate 300 is not plausible; expected 25–250.",
    ("heart_rate", 20): "Heart rate 20 is not plausible; expected 25–250.",
    ("spo2", 101): "SpO2 101 is not plausible; expected 50–100.",
    ("spo2", 40): "SpO2 40 is not plausible; expected 50–100.",
}


@pytest.mark.parametrize(("name", "value"), list(EXPECTED), ids=[f"{n}-{v}" for n, v in EXPECTED])
def test_an_implausible_reading_is_refused_with_the_services_message(name, value):
    form = VitalsForm(data={**NORMAL, name: value})
    assert not form.is_valid()
    assert form.errors[name] == [EXPECTED[name, value]]


@pytest.mark.parametrize("name", list(PLAUSIBLE))
def test_the_form_accepts_exactly_the_services_range(name):
    low, high = PLAUSIBLE[name]
    for value in (low, high):
        assert name not in VitalsForm(data={**NORMAL, name: value}).errors, (name, value)
    for value in (low - 1, high + 1):
        assert name in VitalsForm(data={**NORMAL, name: value}).errors, (name, value)
    attrs = VitalsForm().fields[name].widget.attrs
    assert (attrs["min"], attrs["max"]) == (low, high)


@pytest.mark.django_db
def test_the_session_page_says_the_same_for_a_reading_above_and_below_the_range(client, ward, at_chair):
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    url = reverse("clinical:session", args=[ward.session.pk])
    for value in (500, 30):
        page = client.post(url, {"form": "vitals", **NORMAL, "systolic": value}, follow=True).content.decode()
        assert f"Systolic pressure {value} is not plausible; expected 60–260." in page, value
