"""The course booking page's signed proposal (web/desk.py book_course)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from scheduling.models import Appointment
from tests.factories import PatientFactory, ProtocolFactory
from tests.web.conftest import NOW, login

pytestmark = pytest.mark.django_db


def test_an_expired_proposal_is_answered_with_the_fresh_proposal_the_message_promises(client, web):
    plan = web.clinic.plan(patient=PatientFactory(home_site=web.clinic.site), protocol=ProtocolFactory())
    url = reverse("web:book-course", args=[plan.pk])
    login(client, web.desk.user)
    token = client.post(url, {"start_date": "2026-03-09"}).context["token"]

    with time_machine.travel(NOW + dt.timedelta(hours=2), tick=False):
        client.logout()
        login(client, web.desk.user)  # signed in again: the idle sign-out is not what is tested
        response = client.post(url, {"start_date": "2026-03-09", "proposal": token})

    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert "That proposal has expired; here is a fresh one." in said
    assert not Appointment.objects.filter(plan=plan).exists()
    # The page says "here is a fresh one", but shows no proposal at all: the desk is left with a bare date form.
    assert response.context.get("proposal"), "the promised fresh proposal is not on the page"
    assert 'name="proposal"' in response.content.decode()
