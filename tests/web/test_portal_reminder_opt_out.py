"""A patient can always withdraw consent to reminders from the portal, whatever channel it shows:
one whose mobile number the clinic removed (reminders fall back to email) turns them off without
having to change a channel they never chose to change."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from clinic.models import Channel
from patients.models import Patient
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def test_a_patient_can_turn_reminders_off_with_the_channel_shown_to_them(client, web):
    patient = web.patient_a
    Patient.objects.filter(pk=patient.pk).update(preferred_channel=Channel.SMS, reminder_consent=True, mobile_phone="")
    assert Patient.objects.get(pk=patient.pk).email, "reminders reach the patient by email (fallback)"
    login(client, patient.user)
    # The portal shows the saved choice (text message) ticked; the patient only unticks consent.
    page = client.get(reverse("home"))
    assert re.search(rb'<input[^>]*value="sms"[^>]*checked', page.content), "the saved channel is pre-selected"
    response = client.post(reverse("web:portal-preferences"), {"preferred_channel": Channel.SMS})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Patient.objects.get(pk=patient.pk).reminder_consent is False
    # Turning them back on with a channel that cannot reach them is still refused.
    again = client.post(reverse("web:portal-preferences"), {"preferred_channel": Channel.SMS, "reminder_consent": "on"})
    assert again.status_code == 400
    assert Patient.objects.get(pk=patient.pk).reminder_consent is False
