"""Admin for patients, the clinic's contraindication list, flags and evaluations."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from clinic.admin_edits import ConcurrentEditAdminMixin, ConcurrentEditInlineMixin
from clinic.admin_history import HistoryAdmin
from clinic.admin_visibility import ClinicalAdminMixin, admin_role
from clinic.errors import DomainError, InvalidInput
from clinic.models import Role
from patients.models import Contraindication, Evaluation, Patient, PatientFlag, one_form
from patients.services import (
    different_person_reason,
    evaluation_date_check,
    patient_home_site_check,
    patient_identity_check,
)


class PatientFlagInline(ConcurrentEditInlineMixin, ClinicalAdminMixin, admin.TabularInline):
    clinical_model = True
    model = PatientFlag
    extra = 0
    fields = ["contraindication", "notes", "recorded_by", "recorded_at"]
    readonly_fields = ["recorded_by", "recorded_at"]


class PrescriberRecordsMixin:
    """Evaluations: a nurse reads them, only a prescriber records or changes one (a diagnosis is
    theirs to put on the chart), as on the chart page, in the API and in
    `patients.services.evaluation_record`."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return admin_role(request) == Role.PRESCRIBER and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_role(request) == Role.PRESCRIBER and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_role(request) == Role.PRESCRIBER and super().has_delete_permission(request, obj)  # type: ignore[misc]


class EvaluationAdminForm(ModelForm):
    """The admin saves evaluations itself, not through `evaluation_record`, so it asks the service's
    date rule directly: a date before 2000 or after today at the patient's home site is an error on
    the date."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        evaluated_on, patient = data.get("evaluated_on"), data.get("patient")
        # Only a date being entered, or an evaluation moved to another patient: "today" is the home
        # site's, so a date that was today in Auckland is tomorrow for a New York patient. An
        # untouched older row must not block saving the rest of the chart. A new patient whose own
        # form is invalid may have no home site yet; that form's errors stop the save anyway.
        if (
            not {"evaluated_on", "patient"} & set(self.changed_data)
            or evaluated_on is None
            or not getattr(patient, "home_site_id", None)
        ):
            return data
        try:
            evaluation_date_check(evaluated_on=evaluated_on, site=patient.home_site, now=timezone.now())
        except InvalidInput as exc:
            self.add_error("evaluated_on", exc.message)
        return data


class PatientAdminForm(ModelForm):
    """The admin saves the patient itself, so it asks the services' rules and shows their refusals on
    the field. The admin's change view runs in one transaction, so what the checks lock (the patient,
    the birth date's identity lock) stays locked from the check to the save.

    - A new home site must not leave one of the patient's evaluations dated after today there
      (patient_home_site_check).
    - One person, one chart, as registration, the API and FHIR have it (patient_duplicate_check): a
      new patient, or a name or date of birth edited onto another chart's, is refused naming that
      chart, unless the administrator ticks that this is a different person (kept in the history)."""

    actor: Any = None  # the signed-in user, set by PatientAdmin.get_form
    different_person = forms.BooleanField(
        required=False,
        label="A different person",
        help_text=(
            "Tick only when saving was refused because another chart has this name and date of birth, "
            "and you have checked that this patient is someone else."
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.confirmed_different: list[int] = []
        site = data.get("home_site")
        if self.instance.pk is not None and site is not None and "home_site" in self.changed_data:
            try:
                patient_home_site_check(patient=self.instance, site=site, now=timezone.now())
            except InvalidInput as exc:
                self.add_error("home_site", exc.message)
        self._identity_check(data)
        return data

    def _identity_check(self, data: dict[str, Any]) -> None:
        first, last, born = (data.get(name) for name in ("first_name", "last_name", "date_of_birth"))
        if not first or not last or born is None:
            return  # the field's own error stops the save
        data["first_name"], data["last_name"] = one_form(first), one_form(last)
        try:
            self.confirmed_different = patient_identity_check(
                patient=self.instance,
                fields=data,
                actor=self.actor,
                different_person=bool(data.get("different_person")),
            )
        except DomainError as exc:
            self.add_error("last_name", exc.message)


class EvaluationInline(ConcurrentEditInlineMixin, PrescriberRecordsMixin, ClinicalAdminMixin, admin.StackedInline):
    clinical_model = True
    model = Evaluation
    form = EvaluationAdminForm
    extra = 0
    fields = [
        ("evaluated_on", "evaluator_name", "evaluator_credentials"),
        ("diagnosis", "icd10_code"),
        ("systolic_bp", "diastolic_bp", "heart_rate"),
        "cardiac_history",
        "notes",
        ("recorded_by", "recorded_at"),
    ]
    readonly_fields = ["recorded_by", "recorded_at"]


@admin.register(Patient)
class PatientAdmin(ConcurrentEditAdminMixin, ClinicalAdminMixin, HistoryAdmin):
    visibility_kind = "patient"  # medications, seizure history
    form = PatientAdminForm
    clinical_inlines = (PatientFlagInline, EvaluationInline)
    list_display = [
        "last_name",
        "first_name",
        "date_of_birth",
        "home_site",
        "preferred_channel",
        "reminder_consent",
        "seizure_history",
        "user",
    ]
    list_filter = ["home_site", "preferred_channel", "reminder_consent", "seizure_history"]
    search_fields = ["first_name", "last_name", "email", "mobile_phone", "user__username"]
    list_select_related = ["home_site", "user"]
    autocomplete_fields = ["user"]
    readonly_fields = [
        "created_at",
        "updated_at",
        "reminder_consent_changed_at",
        "email_confirmed",
        "email_confirmed_at",
    ]
    inlines = [PatientFlagInline, EvaluationInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("first_name", "last_name"),
                    "date_of_birth",
                    "different_person",
                    "home_site",
                    "time_zone",
                    "user",
                ]
            },
        ),
        (
            "Contact and reminders",
            {
                "fields": [
                    ("email", "mobile_phone"),
                    ("email_confirmed", "email_confirmed_at"),
                    ("preferred_channel", "reminder_consent", "reminder_consent_changed_at"),
                    ("escort_name", "escort_phone"),
                    ("emergency_contact_name", "emergency_contact_phone", "emergency_contact_relation"),
                ]
            },
        ),
        ("Clinical", {"fields": ["medications", "seizure_history"]}),
        ("Record", {"fields": [("created_at", "updated_at")]}),
    ]

    def _may_read_access_log(self, request: HttpRequest, obj: Patient | None) -> bool:
        return obj is not None and request.user.has_perm("clinic.view_accesslog")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if not self._may_read_access_log(request, obj):
            return fieldsets
        # Who saw this patient's data: the access log's rows naming the patient, for whoever may read it.
        *rest, (title, options) = fieldsets
        return [*rest, (title, {**options, "fields": [*options["fields"], "access_trail"]})]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "access_trail"] if self._may_read_access_log(request, obj) else fields

    @admin.display(description="Access log")
    def access_trail(self, obj: Patient) -> str:
        url = reverse("admin:clinic_accesslog_changelist") + f"?patient={obj.pk}"
        return format_html('<a href="{}">Who saw, was mailed or was sent this patient\'s data</a>', url)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request: HttpRequest, obj: Patient, form: ModelForm, change: bool) -> None:
        confirmed = getattr(form, "confirmed_different", None)
        if confirmed:
            obj._change_reason = different_person_reason("Changed" if change else "Added", confirmed)  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool) -> None:
        # Flags and evaluations record who entered them: the signed-in user.
        for instance in formset.save(commit=False):
            if getattr(instance, "recorded_by_id", None) is None:
                instance.recorded_by = request.user
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()


@admin.register(Contraindication)
class ContraindicationAdmin(ConcurrentEditAdminMixin, HistoryAdmin):
    list_display = ["label", "code", "kind", "threshold", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["label", "code", "description"]
    prepopulated_fields = {"code": ["label"]}


class RecordedByAdmin(ConcurrentEditAdminMixin, HistoryAdmin):
    readonly_fields = ["recorded_by", "recorded_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        if obj.recorded_by_id is None:
            obj.recorded_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(PatientFlag)
class PatientFlagAdmin(ClinicalAdminMixin, RecordedByAdmin):
    clinical_model = True
    list_display = ["patient", "contraindication", "recorded_by", "recorded_at"]
    list_filter = ["contraindication"]
    search_fields = ["patient__first_name", "patient__last_name", "notes"]
    date_hierarchy = "recorded_at"
    list_select_related = ["patient", "contraindication", "recorded_by"]
    autocomplete_fields = ["patient"]


@admin.register(Evaluation)
class EvaluationAdmin(PrescriberRecordsMixin, ClinicalAdminMixin, RecordedByAdmin):
    clinical_model = True
    form = EvaluationAdminForm
    list_display = [
        "patient",
        "evaluated_on",
        "diagnosis",
        "icd10_code",
        "systolic_bp",
        "diastolic_bp",
        "heart_rate",
        "evaluator_name",
    ]
    list_filter = ["evaluator_name"]
    search_fields = ["patient__first_name", "patient__last_name", "diagnosis", "icd10_code", "evaluator_name"]
    date_hierarchy = "evaluated_on"
    list_select_related = ["patient"]
    autocomplete_fields = ["patient"]
