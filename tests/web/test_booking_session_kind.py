"""Tester's #15: the single-session booking page sent without a session type (or with one it does
not offer) answered 400 with the radios marked but no words; and a plan in its induction offered
"Induction session" for the value that books an induction or make-up session."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from scheduling.models import Appointment
from tests.web.conftest import login

pytestmark = pytest.mark.django_db
SEARCH = {"first_day": "2026-03-02", "last_day": "2026-03-08"}


def _kind_fieldset(html: str) -> str:
    match = re.search(r"<fieldset[^>]*>\s*<legend>Session</legend>.*?</fieldset>", html, re.S)
    assert match, "no session-type fieldset on the page"
    return match.group(0)


@pytest.mark.parametrize("kind", [None, "booster"], ids=["no kind", "a kind not offered"])
def test_a_booking_without_a_valid_session_type_says_so_beside_the_radios(client, web, kind):
    login(client, web.desk.user)
    url = reverse("web:book-session", args=[web.patient_a.pk])
    data = {**SEARCH, "slot": "2026-03-03T15:00:00+00:00|1"}
    if kind is not None:
        data["kind"] = kind
    before = Appointment.objects.count()
    response = client.post(url, data)
    assert response.status_code == 400
    fieldset = _kind_fieldset(response.content.decode())
    assert "field__error" in fieldset
    assert "Choose which session to book" in fieldset
    assert Appointment.objects.count() == before


def test_the_induction_choice_is_labelled_with_what_it_books(client, web):
    login(client, web.desk.user)
    response = client.get(reverse("web:book-session", args=[web.patient_a.pk]), {**SEARCH, "kind": "make-up"})
    assert response.status_code == 200
    fieldset = _kind_fieldset(response.content.decode())
    labels = dict(re.findall(r'value="([^"]+)"[^>]*>\s*([^<]+?)\s*</label>', fieldset))
    assert labels == {"make-up": "Induction or make-up session", "maintenance": "Maintenance session"}
