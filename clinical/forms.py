"""Forms of the session page. Times are entered in the site's wall-clock time (the view
activates the site's zone), and the services re-check every rule."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from clinic.form_fields import ClinicalDateField, RefusesControlCharacters, WallClockDateTimeField
from clinic.models import CLINICIAN_ROLES, Route, Site, StaffMember
from clinical.models import SideEffect, VitalsPhase


class VitalsForm(RefusesControlCharacters, forms.Form):
    phase = forms.ChoiceField(choices=VitalsPhase.choices)
    systolic = forms.IntegerField(label="Systolic (mmHg)", min_value=0, max_value=400)
    diastolic = forms.IntegerField(label="Diastolic (mmHg)", min_value=0, max_value=400)
    heart_rate = forms.IntegerField(label="Heart rate (bpm)", min_value=0, max_value=400)
    spo2 = forms.IntegerField(label="SpO2 (%)", min_value=0, max_value=100)


class ClearStartForm(RefusesControlCharacters, forms.Form):
    reason = forms.CharField(label="Reason for clearing", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class AdministrationForm(RefusesControlCharacters, forms.Form):
    route = forms.ChoiceField(choices=Route.choices)
    route_change_reason = forms.CharField(
        label="Reason for another route",
        required=False,
        max_length=2000,
        help_text=(
            "Only when the route differs from the session's: a prescriber gives the reason it was given that way "
            "(for example, no IV line could be placed and IM was ordered)."
        ),
    )
    dose_mg_per_kg = forms.DecimalField(label="Dose (mg/kg)", max_digits=5, decimal_places=3)
    weight_kg = forms.DecimalField(label="Weight (kg)", max_digits=5, decimal_places=1)
    total_mg = forms.DecimalField(label="Total given (mg)", max_digits=7, decimal_places=2)
    started_at = WallClockDateTimeField(label="Started")
    ended_at = WallClockDateTimeField(label="Ended")
    lot_number = forms.CharField(label="Lot number", max_length=60)
    given_by = forms.ModelChoiceField(
        queryset=StaffMember.objects.filter(role__in=CLINICIAN_ROLES, active=True).select_related("user"),
        label="Given by",
    )

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The clinicians of the session's site (the service refuses anyone else).
        field = self.fields["given_by"]
        field.queryset = field.queryset.filter(Q(all_sites=True) | Q(sites=site)).distinct()  # type: ignore[attr-defined]


class RecoveryForm(RefusesControlCharacters, forms.Form):
    side_effects = forms.ModelMultipleChoiceField(
        queryset=SideEffect.objects.filter(active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Side effects seen",
    )
    other_side_effects = forms.CharField(label="Other side effects", required=False, max_length=2000)
    notes = forms.CharField(
        label="Recovery notes", required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )
    discharged_at = WallClockDateTimeField(label="Discharged at")
    driver_name = forms.CharField(label="Driver home", max_length=120)


class LogFilterForm(RefusesControlCharacters, forms.Form):
    date_from = ClinicalDateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = ClinicalDateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
