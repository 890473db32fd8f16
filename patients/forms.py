"""Forms for patient pages: staff search and the patient's own reminder choices."""

from __future__ import annotations

import datetime as dt

from django import forms

from clinic.form_fields import RefusesControlCharacters
from clinic.models import Channel
from patients.models import Patient


class PatientSearchForm(RefusesControlCharacters, forms.Form):
    q = forms.CharField(label="Name, email or phone", max_length=100, required=False, strip=True)
    # Patients on an active maintenance plan with nothing booked ahead, due within so many days or overdue.
    due = forms.TypedChoiceField(
        label="Due for a session",
        choices=[
            ("", "Any patient"),
            ("0", "Due today or overdue"),
            ("7", "Due within a week, or overdue"),
            ("14", "Due within two weeks, or overdue"),
            ("28", "Due within four weeks, or overdue"),
        ],
        coerce=int,
        empty_value=None,
        required=False,
    )


class ReminderPreferencesForm(RefusesControlCharacters, forms.ModelForm):
    preferred_channel = forms.ChoiceField(
        label="Send my reminders by", choices=Channel.choices, widget=forms.RadioSelect
    )
    reminder_consent = forms.BooleanField(label="Yes, send me reminders before my sessions", required=False)

    class Meta:
        model = Patient
        fields = ["preferred_channel", "reminder_consent"]

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("reminder_consent"):
            return data  # turning reminders off always works, whatever channel is shown
        if data.get("preferred_channel") == Channel.SMS and not self.instance.mobile_phone:
            self.add_error("preferred_channel", "We have no mobile number for you; call the clinic to add one.")
        if data.get("preferred_channel") == Channel.EMAIL and not self.instance.email:
            self.add_error("preferred_channel", "We have no email address for you; call the clinic to add one.")
        return data

    def save_choices(self, *, now: dt.datetime) -> Patient:
        """Saves only these fields, with the consent timestamp and a history reason."""
        patient = self.instance
        fields = ["preferred_channel", "reminder_consent", "updated_at"]
        if "reminder_consent" in self.changed_data:
            patient.reminder_consent_changed_at = now
            fields.append("reminder_consent_changed_at")
        patient._change_reason = "Reminder preferences changed by the patient"
        patient.save(update_fields=fields)
        return patient


class EmailChangeForm(RefusesControlCharacters, forms.Form):
    """The address a patient asks, in the portal, to use instead of the one on their record."""

    email = forms.EmailField(label="New email address", max_length=254)
