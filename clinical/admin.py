"""Admin: the clinic's vital-sign limits and side-effect list are edited here; the session
record and the controlled-substance log are shown read-only (they are written by clinicians
through the session page or the API, and the log is never changed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from clinic.admin_edits import ConcurrentEditAdminMixin
from clinic.admin_history import HistoryAdmin
from clinic.admin_visibility import ClinicalAdminMixin, admin_role
from clinic.permissions import ADMINS, CLINICIANS
from clinical.models import (
    Administration,
    ControlledSubstanceEntry,
    Recovery,
    SideEffect,
    StartClearance,
    VitalSigns,
    VitalsThresholds,
)


@admin.register(VitalsThresholds)
class VitalsThresholdsAdmin(ConcurrentEditAdminMixin, HistoryAdmin):
    list_display = ["site", "systolic_max", "diastolic_max", "heart_rate_max", "spo2_min"]


@admin.register(SideEffect)
class SideEffectAdmin(ConcurrentEditAdminMixin, HistoryAdmin):
    """The clinic's list. An entry a discharge names is retired (`active` off), never deleted:
    deleting it would take it out of every recovery already recorded."""

    list_display = ["label", "code", "active", "position"]
    list_editable = ["active", "position"]
    prepopulated_fields = {"code": ["label"]}

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and Recovery.side_effects.through.objects.filter(sideeffect=obj).exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # The bulk delete asks no per-entry question; one entry at a time, through the check above.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VitalSigns)
class VitalSignsAdmin(ClinicalAdminMixin, ReadOnlyAdmin):
    clinical_model = True
    patient_path = "appointment__patient_id"
    list_display = ["appointment", "phase", "systolic", "diastolic", "heart_rate", "spo2", "recorded_by", "recorded_at"]
    list_filter = ["phase"]
    date_hierarchy = "recorded_at"


@admin.register(StartClearance)
class StartClearanceAdmin(ClinicalAdminMixin, ReadOnlyAdmin):
    clinical_model = True
    patient_path = "appointment__patient_id"
    list_display = ["appointment", "prescriber", "held_for", "reason", "cleared_at"]


@admin.register(Administration)
class AdministrationAdmin(ClinicalAdminMixin, ReadOnlyAdmin, HistoryAdmin):
    clinical_model = True
    patient_path = "appointment__patient_id"
    list_display = ["appointment", "route", "dose_mg_per_kg", "total_mg", "lot_number", "given_by", "started_at"]
    list_filter = ["route"]


@admin.register(Recovery)
class RecoveryAdmin(ClinicalAdminMixin, ReadOnlyAdmin, HistoryAdmin):
    clinical_model = True
    patient_path = "appointment__patient_id"
    list_display = ["appointment", "discharged_at", "driver_name", "recorded_by"]


@admin.register(ControlledSubstanceEntry)
class ControlledSubstanceEntryAdmin(ClinicalAdminMixin, ReadOnlyAdmin):
    """The register: for the roles its page and API show it to (clinicians, clinic administrators
    for the audit), not the front desk. A line's reason is clinical text: the others see whether
    one was recorded, not the words (FIELD_READERS["cs_entry"], as on the page and the API)."""

    visibility_kind = "cs_entry"

    list_display = [
        "pk",
        "recorded_at",
        "site",
        "patient",
        "route",
        "total_mg",
        "lot_number",
        "given_by",
        "corrects",
        "reason",
    ]
    list_filter = ["site", "route"]
    date_hierarchy = "recorded_at"

    def _refused(self, request: HttpRequest) -> bool:
        return admin_role(request) not in CLINICIANS | ADMINS

    def get_list_display(self, request: HttpRequest) -> Sequence[Any]:
        shown = list(super().get_list_display(request))
        if "reason" in self._hidden(request):
            shown.append("reason_recorded")
        return shown

    @admin.display(description="reason recorded (clinicians only)", boolean=True)
    def reason_recorded(self, entry: ControlledSubstanceEntry) -> bool:
        return bool(entry.reason)
