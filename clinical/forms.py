"""Forms of the session page. Times are entered in the site's wall-clock time (the view
activates the site's zone), and the services re-check every rule."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from clinic.form_fields import ClinicalDateField, RefusesControlCharacters, WallClockDateTimeField
from clinic.models import CLINICIAN_ROLES, Route, Site, StaffMember
from clinical.models import SideEffect, VitalsPhase
from clinical.services import DOSE_TOLERANCE_WORDS, LABELS, PLAUSIBLE, WEIGHT_BASED_ROUTES


def _reading(name: str, label: str) -> forms.IntegerField:
    """A vital sign within the service's plausible range, refused outside it in the service's words."""
    low, high = PLAUSIBLE[name]
    implausible = f"{LABELS[name]} %(show_value)s is not plausible; expected {low}–{high}."
    return forms.IntegerField(
        label=label,
        min_value=low,
        max_value=high,
        error_messages={"min_value": implausible, "max_value": implausible},
    )


class VitalsForm(RefusesControlCharacters, forms.Form):
    phase = forms.ChoiceField(choices=VitalsPhase.choices)
    systolic = _reading("systolic", "Systolic (mmHg)")
    diastolic = _reading("diastolic", "Diastolic (mmHg)")
    heart_rate = _reading("heart_rate", "Heart rate (bpm)")
    spo2 = _reading("spo2", "SpO2 (%)")


class ClearStartForm(RefusesControlCharacters, forms.Form):
    reason = forms.CharField(label="Reason for clearing", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


# The total's rule, as the service checks it (`_check_dose`).
TOTAL_HELP = (
    f"For {' or '.join(Route(route).label.lower() for route in WEIGHT_BASED_ROUTES)}: "
    f"dose × weight, within {DOSE_TOLERANCE_WORDS}."
)


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
    total_mg = forms.DecimalField(
        label="Total given (mg)",
        max_digits=7,
        decimal_places=2,
        help_text=TOTAL_HELP,
    )
    started_at = WallClockDateTimeField(label="Started")
    ended_at = WallClockDateTimeField(label="Ended")
    short_infusion_reason = forms.CharField(
        label="Reason the infusion was short",
        required=False,
        max_length=2000,
        help_text=(
            "Only when the infusion really lasted under half the protocol's minutes: why it was stopped early "
            "(for example, stopped early: dissociation). Kept in the register."
        ),
    )
    lot_number = forms.CharField(label="Lot number", max_length=60)
    given_by = forms.ModelChoiceField(
        queryset=StaffMember.objects.filter(role__in=CLINICIAN_ROLES, active=True).select_related("user"),
        label="Given by",
    )

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set by the page when the service refused a short infusion for want of its reason.
        self.short_infusion_refused = False
        # The clinicians of the session's site (the service refuses anyone else).
        field = self.fields["given_by"]
        field.queryset = field.queryset.filter(Q(all_sites=True) | Q(sites=site)).distinct()  # type: ignore[attr-defined]

    @property
    def asks_short_infusion_reason(self) -> bool:
        """The reason for a short infusion is asked for beside the refusal that needs it, and kept on
        the form once typed (another field's error must not lose it)."""
        typed = self.is_bound and str(self.data.get(self.add_prefix("short_infusion_reason"), "")).strip()
        return self.short_infusion_refused or bool(typed) or "short_infusion_reason" in self.errors


GONE_FROM_THE_LIST = "A side effect you ticked is no longer on the list; choose again."


class SideEffectsField(forms.ModelMultipleChoiceField):
    """The clinic's current side effects. One ticked on a page drawn before an administrator retired
    (or deleted) it is named in the error, so the nurse knows what to choose again."""

    def _check_values(self, value: Any) -> Any:
        try:
            return super()._check_values(value)
        except forms.ValidationError as error:
            if error.code not in ("invalid_choice", "invalid_pk_value"):
                raise
            wanted = (error.params or {}).get("value" if error.code == "invalid_choice" else "pk")
            retired = SideEffect.objects.filter(pk=wanted).first() if str(wanted).isdigit() else None
            message = f"{retired.label} is no longer on the list; choose again." if retired else GONE_FROM_THE_LIST
            raise forms.ValidationError(message, code=error.code) from error


class RecoveryForm(RefusesControlCharacters, forms.Form):
    side_effects = SideEffectsField(
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
    override_reason = forms.CharField(
        label="Reason to discharge over out-of-range recovery vitals",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Prescribers only: leave empty unless the latest recovery vitals are outside the clinic's limits.",
    )


class LogFilterForm(RefusesControlCharacters, forms.Form):
    date_from = ClinicalDateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = ClinicalDateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))


class CorrectionForm(RefusesControlCharacters, forms.Form):
    """A controlled-substance log line's correction: the administration's current values, prefilled
    by the page, and the reason. The page sends the service only the fields that were changed."""

    total_mg = forms.DecimalField(label="Total given (mg)", max_digits=7, decimal_places=2, help_text=TOTAL_HELP)
    dose_mg_per_kg = forms.DecimalField(label="Dose (mg/kg)", max_digits=5, decimal_places=3)
    weight_kg = forms.DecimalField(label="Weight (kg)", max_digits=5, decimal_places=1)
    lot_number = forms.CharField(label="Lot number", max_length=60)
    route = forms.ChoiceField(choices=Route.choices)
    given_by = forms.ModelChoiceField(queryset=StaffMember.objects.none(), label="Given by")
    started_at = WallClockDateTimeField(label="Started")
    reason = forms.CharField(
        label="Reason for the correction",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Give a reason for the correction."},
    )

    def __init__(self, *args: Any, site: Site, given_by: StaffMember, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The active clinicians of the line's site (the service refuses anyone else as a change), and
        # whoever the line names now, so a line whose clinician has since left is still corrected.
        clinicians = Q(role__in=CLINICIAN_ROLES, active=True) & (Q(all_sites=True) | Q(sites=site))
        field = self.fields["given_by"]
        field.queryset = (  # type: ignore[attr-defined]
            StaffMember.objects.filter(clinicians | Q(pk=given_by.pk)).select_related("user").distinct()
        )
