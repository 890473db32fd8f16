"""Registering a patient (front desk and clinicians), creating a plan from a
protocol (prescribers), and the plan's screening page: what the clinic's
contraindication list says about the patient, and the prescriber's override
with its required reason."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from phonenumber_field.formfields import PhoneNumberField

from clinic.audit import patients_shown
from clinic.dates import BIRTH_EARLIEST, birth_date_problem
from clinic.errors import DomainError
from clinic.form_fields import ClinicalDateField, RefusesControlCharacters
from clinic.models import CLINICIAN_ROLES, Channel, Role, Site, StaffMember
from clinic.permissions import hidden_fields, scope_to_staff
from clinic.validators import single_line
from patients.models import Evaluation, Patient
from patients.services import EVALUATION_FIELDS, evaluation_record, patient_register
from scheduling.engine import Preferences
from scheduling.engine.wallclock import local_day
from scheduling.forms import DateInput
from scheduling.models import OPEN_PLAN_STATUSES, Protocol, TreatmentPlan
from scheduling.services import patient_eligibility, plan_create, plan_override_eligibility
from web.access import DESK_ROLES, PAGE_ROLES, staff_required
from web.common import describe
from web.scope import staff_sites

PRESCRIBERS = frozenset({Role.PRESCRIBER})
CLINICIANS = frozenset(CLINICIAN_ROLES)
WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class TimeInput(forms.TimeInput):
    input_type = "time"


def _show_refusal(form: forms.Form, exc: DomainError) -> int:
    """Puts a service's refusal on the form, next to the field it names in `details["field"]` (else
    above the form), and returns the error's own status, as the API answers: a refused date is a
    400, a prescriber_only refusal a 403, a state conflict a 409."""
    field = (exc.details or {}).get("field")
    form.add_error(field if field in form.fields else None, exc.message)
    return exc.http_status


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone this machine knows; blank follows the home site's zone."""
    return [("", "The home site's zone"), *((zone, zone) for zone in sorted(zoneinfo.available_timezones()))]


class RegisterForm(RefusesControlCharacters, forms.Form):
    first_name = forms.CharField(max_length=100, validators=[single_line])
    last_name = forms.CharField(max_length=100, validators=[single_line])
    date_of_birth = ClinicalDateField(widget=DateInput, earliest=BIRTH_EARLIEST)
    home_site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=time_zone_choices,
        required=False,
        help_text="Where the patient lives: the portal and the reminders show times in it.",
    )
    email = forms.EmailField(required=False)
    mobile_phone = PhoneNumberField(required=False, help_text="With +country code, or a national number.")
    preferred_channel = forms.ChoiceField(label="Reminders by", choices=Channel.choices, initial=Channel.EMAIL)
    reminder_consent = forms.BooleanField(label="The patient agrees to receive reminders", required=False)
    escort_name = forms.CharField(label="Usual driver home", max_length=120, required=False)
    escort_phone = PhoneNumberField(label="Driver's phone", required=False)
    emergency_contact_name = forms.CharField(max_length=120, required=False)
    emergency_contact_phone = PhoneNumberField(required=False)
    emergency_contact_relation = forms.CharField(max_length=60, required=False)
    medications = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="One per line.")
    seizure_history = forms.BooleanField(label="History of seizures", required=False)
    # Shown with a refusal naming a patient of the same name and date of birth: two people can
    # share both, and the desk that has the patient before them says so (kept in the history).
    different_person = forms.BooleanField(
        label="This is a different person from the patient named above: register them anyway", required=False
    )

    def __init__(self, *args: Any, sites: list[Site], role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["home_site"].queryset = Site.objects.filter(pk__in=[s.pk for s in sites]).order_by("name")
        self.fields["home_site"].label_from_instance = lambda site: site.name
        # Screening data is recorded only by the roles that may read it (clinicians).
        for name in hidden_fields(role, "patient"):
            del self.fields[name]

    def clean_date_of_birth(self) -> dt.date:
        born = self.cleaned_data["date_of_birth"]
        if born.year < 1901:
            raise forms.ValidationError("Check the year of birth.")
        return born

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        born, site = data.get("date_of_birth"), data.get("home_site")
        if born is not None:
            zone = data.get("time_zone") or (site.time_zone if site is not None else "")
            problem = birth_date_problem(born, zone=zone, now=timezone.now())
            if problem:
                self.add_error("date_of_birth", problem)
        channel = data.get("preferred_channel")
        if channel == Channel.SMS and not data.get("mobile_phone"):
            self.add_error("mobile_phone", "Text-message reminders need a mobile number.")
        if channel == Channel.EMAIL and data.get("reminder_consent") and not data.get("email"):
            self.add_error("email", "Email reminders need an email address.")
        return data


@staff_required(DESK_ROLES)
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    sites = list(staff_sites(staff))
    form = RegisterForm(
        request.POST or None,
        sites=sites,
        role=staff.role,
        # The zone stays blank (the home site's zone): a zone pre-set from the first site would stay
        # with a patient registered at another site of a desk of two.
        initial={"home_site": sites[0].pk if sites else None},
    )
    status = 200
    duplicate_id = None
    if request.method == "POST":
        status = 400
        if form.is_valid():
            fields = dict(form.cleaned_data)
            different_person = fields.pop("different_person")
            try:
                patient = patient_register(
                    actor=request.user,
                    now=timezone.now(),
                    clinician=staff.is_clinician,
                    fields=fields,
                    different_person=different_person,
                )
            except DomainError as exc:
                status = _show_refusal(form, exc)
                duplicate_id = (exc.details or {}).get("patient_id")
                patients_shown(request, [duplicate_id])  # the refusal names them and links their chart
            else:
                patients_shown(request, [patient.pk])
                messages.success(request, f"{patient.full_name} is registered.")
                return redirect("web:patient", patient_id=patient.pk)
    return render(
        request,
        "web/patients/register.html",
        {"form": form, "nav": "patients", "duplicate_id": duplicate_id},
        status=status,
    )


class PlanForm(RefusesControlCharacters, forms.Form):
    protocol = forms.ModelChoiceField(queryset=Protocol.objects.filter(active=True).order_by("name"), empty_label=None)
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    start_date = ClinicalDateField(label="Start from", widget=DateInput)
    maintenance_interval_days = forms.IntegerField(
        label="Maintenance every (days)",
        required=False,
        min_value=1,
        max_value=365,
        help_text="Empty: the protocol's default.",
    )
    review_date = ClinicalDateField(
        label="Review by",
        required=False,
        widget=DateInput,
        help_text="Empty: the protocol's review period after the start.",
    )
    preferred_weekdays = forms.TypedMultipleChoiceField(
        label="Preferred days",
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        initial=[0, 1, 2, 3, 4],
        error_messages={"required": "Pick at least one day."},
    )
    earliest_start = forms.TimeField(label="Earliest start", required=False, widget=TimeInput)
    latest_start = forms.TimeField(label="Latest start", required=False, widget=TimeInput)

    prescriber = forms.ModelChoiceField(
        queryset=StaffMember.objects.none(),
        help_text="The prescriber answerable for the plan; they work at the plan's site.",
    )

    def __init__(self, *args: Any, sites: list[Site], staff: StaffMember, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(pk__in=[s.pk for s in sites]).order_by("name")
        self.fields["site"].label_from_instance = lambda site: site.name
        if staff.role == Role.PRESCRIBER:
            del self.fields["prescriber"]  # they write their own plan
        else:
            # A nurse writes the plan up for a prescriber of their own sites (the service checks the
            # prescriber works at the plan's site).
            self.fields["prescriber"].queryset = scope_to_staff(
                StaffMember.objects.filter(role=Role.PRESCRIBER, active=True).select_related("user"), staff
            ).order_by("user__last_name", "user__first_name", "pk")
            self.fields["prescriber"].label_from_instance = lambda member: str(member)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, review = data.get("start_date"), data.get("review_date")
        if start and review and review <= start:
            self.add_error("review_date", "The review date must be after the start.")
        earliest, latest = data.get("earliest_start"), data.get("latest_start")
        if earliest and latest and latest < earliest:
            self.add_error("latest_start", "The latest start must be after the earliest.")
        return data


def _patient_for(staff: StaffMember, patient_id: int) -> Patient:
    return get_object_or_404(scope_to_staff(Patient.objects.select_related("home_site"), staff), pk=patient_id)


@staff_required(CLINICIANS)
@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """A clinician creates the plan (a nurse names the prescriber answerable for it), seeing the
    screening first."""
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    patient = _patient_for(staff, patient_id)
    patients_shown(request, [patient.pk])
    now = timezone.now()
    today = local_day(now, patient.home_site.zone)
    sites = list(staff_sites(staff))
    open_plan = TreatmentPlan.objects.filter(patient=patient, status__in=OPEN_PLAN_STATUSES).first()
    form = PlanForm(
        request.POST or None,
        sites=sites,
        staff=staff,
        initial={"site": patient.home_site_id, "start_date": today + dt.timedelta(days=1)},
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                plan = plan_create(
                    patient=patient,
                    protocol=data["protocol"],
                    prescriber=data.get("prescriber") or staff,
                    start_date=data["start_date"],
                    actor=request.user,
                    site=data["site"],
                    maintenance_interval_days=data["maintenance_interval_days"],
                    review_date=data["review_date"],
                    preferences=Preferences(
                        weekdays=frozenset(data["preferred_weekdays"]),
                        earliest=data["earliest_start"],
                        latest=data["latest_start"],
                    ),
                )
            except DomainError as exc:
                status = _show_refusal(form, exc)
            else:
                messages.success(request, f"Plan created: {plan.protocol.name} from {plan.start_date:%-d %b %Y}.")
                return redirect("web:plan-screening", plan_id=plan.pk)
    context = {
        "nav": "patients",
        "patient": patient,
        "form": form,
        "open_plan": open_plan,
        "eligibility": patient_eligibility(patient=patient, on=today),
    }
    return render(request, "web/patients/plan_new.html", context, status=status)


class OverrideForm(RefusesControlCharacters, forms.Form):
    reason = forms.CharField(
        label="Reason for treating despite the screening",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        strip=True,
        error_messages={"required": "Give the reason for the override; it is kept in the plan's history."},
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


@staff_required(PAGE_ROLES["plan_screening"])
@require_http_methods(["GET", "POST"])
def plan_screening(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The eligibility screen of a plan; a prescriber may record an override with a reason."""
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    plan = get_object_or_404(
        TreatmentPlan.objects.select_related("patient__home_site", "protocol", "site", "eligibility_override_by__user"),
        pk=plan_id,
        site__in=staff_sites(staff),
    )
    patients_shown(request, [plan.patient_id])
    now = timezone.now()
    can_override = staff.role == Role.PRESCRIBER and plan.status in OPEN_PLAN_STATUSES
    form = OverrideForm(request.POST or None, initial={"version": plan.version})
    status = 200
    problem = None
    if request.method == "POST":
        if not can_override:
            raise PermissionDenied("Only a prescriber can override the screening.")
        status = 400
        if form.is_valid():
            try:
                plan_override_eligibility(
                    plan=plan,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    now=now,
                    expected_version=form.cleaned_data["version"],
                )
            except DomainError as exc:
                # A refusal about the reason goes next to it; any other (a stale version, the plan
                # no longer open) is the page's problem, with the items the service listed.
                if (exc.details or {}).get("field") in form.fields:
                    status = _show_refusal(form, exc)
                else:
                    problem, status = describe(exc), exc.http_status
            else:
                messages.success(request, "Override recorded; the course can be booked.")
                return redirect(reverse("web:plan-screening", args=[plan.pk]))
    eligibility = patient_eligibility(patient=plan.patient, on=local_day(now, plan.site.zone))
    context = {
        "nav": "patients",
        "plan": plan,
        "patient": plan.patient,
        "form": form,
        "problem": problem,
        "can_override": can_override,
        "eligibility": eligibility,
        # What still stops booking: every reason without an override, those found since one with it.
        "not_overridden": eligibility.not_overridden(plan),
    }
    with timezone.override(plan.site.zone):
        return render(request, "web/patients/screening.html", context, status=status)


class EvaluationForm(RefusesControlCharacters, forms.ModelForm):
    """No date rule of its own: a date before 2000 or after the clinic's today is refused by
    evaluation_record, the one place those rules live (the API and the admin use them too), and
    the page shows its refusal next to the date."""

    class Meta:
        model = Evaluation
        fields = list(EVALUATION_FIELDS)
        widgets = {
            "evaluated_on": DateInput,
            "cardiac_history": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"evaluated_on": "Date of the evaluation", "evaluator_name": "Evaluator"}


@staff_required(PRESCRIBERS)
@require_http_methods(["GET", "POST"])
def evaluation_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """A prescriber records the mental-health evaluation (diagnosis, evaluator, date) from the chart."""
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    patient = _patient_for(staff, patient_id)
    patients_shown(request, [patient.pk])
    now = timezone.now()
    today = local_day(now, patient.home_site.zone)
    form = EvaluationForm(request.POST or None, initial={"evaluated_on": today})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                evaluation_record(
                    patient=patient,
                    actor=request.user,
                    now=now,
                    fields=dict(form.cleaned_data),
                    reason="Recorded from the chart",
                )
            except DomainError as exc:
                status = _show_refusal(form, exc)
            else:
                messages.success(request, f"The evaluation of {patient.full_name} is recorded.")
                return redirect(reverse("web:patient", args=[patient.pk]) + "#screen-h")
    return render(
        request,
        "web/patients/evaluation_new.html",
        {"form": form, "patient": patient, "nav": "patients"},
        status=status,
    )
