"""A refused booking or move shows the page again with what the user picked still picked."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.web.conftest import login

pytestmark = pytest.mark.django_db

SEARCH = {"first_day": "2026-03-02", "last_day": "2026-03-08"}


def test_a_move_refused_for_want_of_a_reason_keeps_the_time_the_prescriber_picked(client, web):
    session = web.sessions_a[1]
    url = reverse("web:move-session", args=[session.pk])
    login(client, web.prescriber.user)
    refused = [c for day in client.get(url, SEARCH).context["days"] for c in day["choices"] if c["refused"]]
    picked = refused[0]["value"]

    response = client.post(url, {**SEARCH, "slot": picked})  # the reason box left empty

    assert response.status_code == 409
    page = response.content.decode()
    assert "This change breaks the plan&#x27;s rules" in page
    # The prescriber is asked for a reason; the time they picked must still be picked, or the
    # next press (now with a reason) answers "Pick one of the free times" and they start over.
    assert f'value="{picked}" checked' in page
