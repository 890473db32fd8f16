"""Withdrawing consent to reminders through the API always works: a PATCH that only withdraws it
is not refused for the channel on file (a text-message channel whose mobile number was removed)."""

from __future__ import annotations

from clinic.models import Channel
from patients.models import Patient


def test_a_patient_can_withdraw_consent_through_the_api_after_the_mobile_was_removed(world):
    """The same through the API: a PATCH that only withdraws consent is refused because of the
    stored channel (ReminderPreferencesSerializer.validate checks the channel even when it is not sent)."""
    patient = world.plan_b.patient
    Patient.objects.filter(pk=patient.pk).update(preferred_channel=Channel.SMS, reminder_consent=True, mobile_phone="")
    response = world.client("patient_b").patch(
        f"/api/v1/patients/{patient.pk}/reminder-preferences/", {"reminder_consent": False}, format="json"
    )
    assert response.status_code == 200, response.content[:300]
    assert Patient.objects.get(pk=patient.pk).reminder_consent is False
    chosen_again = world.client("patient_b").patch(
        f"/api/v1/patients/{patient.pk}/reminder-preferences/",
        {"reminder_consent": True, "preferred_channel": Channel.SMS},
        format="json",
    )
    assert chosen_again.status_code == 400
    assert "preferred_channel" in chosen_again.json()["error"]["fields"]
