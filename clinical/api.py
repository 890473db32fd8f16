"""The session record over the API: vitals, the prescriber's start clearance, the
administration, recovery and discharge, and the controlled-substance log (list, CSV,
corrections).

Clinicians record; only a prescriber clears a held start. The log is read by clinicians
and clinic administrators (who audit it). The front desk and patients get 403."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clinic import api_fields
from clinic.api import ClinicAPIMixin
from clinic.audit import patient_ids_of, patients_shown
from clinic.models import Role, Route, Site, StaffMember
from clinic.permissions import ADMINS, CLINICIANS, PRESCRIBERS, FieldVisibilityMixin, scope_serializer, scope_to_actor
from clinical import selectors, services
from clinical.models import (
    Administration,
    ControlledSubstanceEntry,
    Recovery,
    SideEffect,
    StartClearance,
    VitalSigns,
    VitalsPhase,
)
from scheduling.models import Appointment


class VitalSignsSerializer(serializers.ModelSerializer):
    class Meta:
        model = VitalSigns
        fields = ["id", "phase", "systolic", "diastolic", "heart_rate", "spo2", "recorded_by", "recorded_at"]
        read_only_fields = ["id", "recorded_by", "recorded_at"]


class VitalsInputSerializer(api_fields.StrictSerializer):
    phase = serializers.ChoiceField(choices=VitalsPhase.choices)
    systolic = serializers.IntegerField(min_value=0, max_value=400)
    diastolic = serializers.IntegerField(min_value=0, max_value=400)
    heart_rate = serializers.IntegerField(min_value=0, max_value=400)
    spo2 = serializers.IntegerField(min_value=0, max_value=100)


class ClearanceSerializer(serializers.ModelSerializer):
    class Meta:
        model = StartClearance
        fields = ["id", "prescriber", "reason", "held_for", "cleared_at"]
        read_only_fields = fields


class ClearInputSerializer(api_fields.StrictSerializer):
    reason = serializers.CharField(max_length=2000)


class AdministrationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Administration
        fields = [
            "id",
            "route",
            "dose_mg_per_kg",
            "weight_kg",
            "total_mg",
            "started_at",
            "ended_at",
            "lot_number",
            "given_by",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = fields


def _clinicians():
    """Who may be named as having given the drug: active clinicians (narrowed to the asker's sites by
    scope_serializer; the service checks the session's site)."""
    return StaffMember.objects.filter(role__in=[Role.NURSE, Role.PRESCRIBER], active=True)


class AdministrationInputSerializer(api_fields.StrictSerializer):
    route = serializers.ChoiceField(choices=Route.choices)
    dose_mg_per_kg = serializers.DecimalField(max_digits=5, decimal_places=3)
    weight_kg = serializers.DecimalField(max_digits=5, decimal_places=1)
    total_mg = serializers.DecimalField(
        max_digits=7,
        decimal_places=2,
        help_text=f"For IV and IM: dose_mg_per_kg × weight_kg, within {services.DOSE_TOLERANCE_WORDS}.",
    )
    started_at = api_fields.DateTimeField()
    ended_at = api_fields.DateTimeField()
    lot_number = serializers.CharField(max_length=60)
    given_by = api_fields.PrimaryKeyRelatedField(queryset=_clinicians())
    route_change_reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="Only for another route than the session's: a prescriber gives the reason (kept in the register).",
    )
    short_infusion_reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text=(
            "Only for an IV infusion that lasted under half its protocol's infusion minutes: why it was stopped "
            "early (kept in the register). Any clinician who records the administration may give it."
        ),
    )


class RecoverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Recovery
        fields = [
            "id",
            "side_effects",
            "other_side_effects",
            "notes",
            "discharged_at",
            "driver_name",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = fields


class RecoveryInputSerializer(api_fields.StrictSerializer):
    side_effects = serializers.SlugRelatedField(
        slug_field="code", queryset=SideEffect.objects.filter(active=True), many=True, required=False
    )
    other_side_effects = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    discharged_at = api_fields.DateTimeField()
    driver_name = serializers.CharField(max_length=120)
    override_reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="Only over recovery vitals outside the clinic's limits: a prescriber gives the reason (kept in the history).",
    )


class LogEntrySerializer(FieldVisibilityMixin, serializers.ModelSerializer):
    """A log line. Its `reason` is clinical text, null for the roles that may not read it
    (clinic.permissions.FIELD_READERS["cs_entry"]); `reason_recorded` tells everyone that one was kept."""

    visibility_kind = "cs_entry"
    patient_name = serializers.CharField(source="patient.full_name", read_only=True)
    given_by_name = serializers.CharField(source="given_by.display_name", read_only=True)
    reason_recorded = serializers.SerializerMethodField(
        help_text="Whether the line carries a reason (its text, `reason`, is for clinicians only)."
    )

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_reason_recorded(self, entry: ControlledSubstanceEntry) -> bool:
        return bool(entry.reason)

    class Meta:
        model = ControlledSubstanceEntry
        fields = [
            "id",
            "corrects",
            "reason",
            "reason_recorded",
            "appointment",
            "patient",
            "patient_name",
            "site",
            "substance",
            "route",
            "total_mg",
            "lot_number",
            "administered_at",
            "given_by",
            "given_by_name",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = fields


class CorrectionInputSerializer(api_fields.StrictSerializer):
    total_mg = serializers.DecimalField(max_digits=7, decimal_places=2, required=False)
    dose_mg_per_kg = serializers.DecimalField(max_digits=5, decimal_places=3, required=False)
    weight_kg = serializers.DecimalField(max_digits=5, decimal_places=1, required=False)
    lot_number = serializers.CharField(max_length=60, required=False)
    route = serializers.ChoiceField(choices=Route.choices, required=False)
    given_by = api_fields.PrimaryKeyRelatedField(queryset=_clinicians(), required=False)
    started_at = api_fields.DateTimeField(required=False)
    reason = serializers.CharField(max_length=2000)


class LogFilterSerializer(api_fields.StrictQueryMixin, serializers.Serializer):
    also = frozenset({"format", "limit", "offset", "ordering", "paging", "cursor"})  # the list's paging and order

    date_from = api_fields.DateField(required=False)
    date_to = api_fields.DateField(required=False)
    site = api_fields.PrimaryKeyRelatedField(queryset=Site.objects.all(), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        wrong = selectors.reversed_days(attrs.get("date_from"), attrs.get("date_to"))
        if wrong is not None:
            raise serializers.ValidationError({"date_from": wrong})
        return attrs


class SessionRecordSerializer(serializers.Serializer):
    appointment = serializers.IntegerField(source="appointment.pk")
    status = serializers.CharField(source="appointment.status")
    start_held_for = serializers.ListField(child=serializers.CharField())
    completion_missing = serializers.ListField(child=serializers.CharField())
    vitals = VitalSignsSerializer(many=True)
    clearances = ClearanceSerializer(many=True)
    administration = AdministrationSerializer(allow_null=True)
    recovery = RecoverySerializer(allow_null=True)
    log = LogEntrySerializer(many=True)


LOG_FILTERS = [
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="First day (inclusive), in each entry's site's zone"),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="Last day (inclusive)"),
    OpenApiParameter("site", OpenApiTypes.INT),
]


class SessionRecordViewSet(ClinicAPIMixin, viewsets.GenericViewSet):
    """/clinical/sessions/{appointment id}/…"""

    queryset = Appointment.objects.select_related("site", "patient")
    serializer_class = SessionRecordSerializer
    access = {
        "retrieve": CLINICIANS,
        "vitals": CLINICIANS,
        "clear_start": PRESCRIBERS,
        "administration": CLINICIANS,
        "recovery": CLINICIANS,
    }
    error_codes = {"*": ("409",)}

    def _valid(self, serializer_class) -> dict:
        return self.scoped_input(serializer_class)

    @extend_schema(summary="A session's clinical record: vitals, hold reasons, administration, recovery")
    def retrieve(self, request, pk=None):
        record = selectors.session_record(appointment=self.get_object())
        return Response(SessionRecordSerializer(record, context={"role": self.actor.role}).data)

    @extend_schema(
        summary="Record vital signs (pre-infusion or recovery)",
        request=VitalsInputSerializer,
        responses={201: VitalSignsSerializer},
    )
    @action(detail=True, methods=["post"])
    def vitals(self, request, pk=None):
        data = self._valid(VitalsInputSerializer)
        row = services.vitals_record(appointment=self.get_object(), actor=request.user, now=timezone.now(), **data)
        return Response(VitalSignsSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Clear a held start (prescribers), with a reason",
        request=ClearInputSerializer,
        responses={201: ClearanceSerializer},
    )
    @action(detail=True, methods=["post"], url_path="clear-start")
    def clear_start(self, request, pk=None):
        data = self._valid(ClearInputSerializer)
        clearance = services.start_clear(
            appointment=self.get_object(), prescriber=self.actor.staff, reason=data["reason"], now=timezone.now()
        )
        return Response(ClearanceSerializer(clearance).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Record what was given; writes the controlled-substance log",
        request=AdministrationInputSerializer,
        responses={201: AdministrationSerializer},
    )
    @action(detail=True, methods=["post"])
    def administration(self, request, pk=None):
        data = self._valid(AdministrationInputSerializer)
        row = services.administration_record(
            appointment=self.get_object(), actor=request.user, now=timezone.now(), **data
        )
        return Response(AdministrationSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Record recovery, side effects and discharge (time and driver)",
        request=RecoveryInputSerializer,
        responses={200: RecoverySerializer},
    )
    @action(detail=True, methods=["post"])
    def recovery(self, request, pk=None):
        data = self._valid(RecoveryInputSerializer)
        row = services.recovery_record(
            appointment=self.get_object(),
            side_effects=data.get("side_effects", []),
            other_side_effects=data.get("other_side_effects", ""),
            notes=data.get("notes", ""),
            discharged_at=data["discharged_at"],
            driver_name=data["driver_name"],
            actor=request.user,
            now=timezone.now(),
            override_reason=data.get("override_reason", ""),
        )
        return Response(RecoverySerializer(row).data)


class ControlledSubstanceLogViewSet(ClinicAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = LogEntrySerializer
    # The register's own order (as written) by default; these only, so another is a 400, not a 500.
    ordering_fields = ["id", "administered_at", "recorded_at"]
    ordering = ["id"]
    access = {"list": CLINICIANS | ADMINS, "export": CLINICIANS | ADMINS, "correct": CLINICIANS}
    error_codes = {"correct": ("409",)}

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "role": self.actor.role}  # who reads a line's reason

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ControlledSubstanceEntry.objects.none()
        filters = scope_serializer(LogFilterSerializer(data=self.request.query_params), self.actor)
        filters.is_valid(raise_exception=True)
        return scope_to_actor(selectors.controlled_substance_log(**filters.validated_data), self.actor)

    @extend_schema(summary="The controlled-substance log, filterable by day", parameters=LOG_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="The controlled-substance log as CSV",
        parameters=LOG_FILTERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=False, methods=["get"], url_path="export")
    def export(self, request):
        entries = list(self.get_queryset())
        patients_shown(request, patient_ids_of(entries))
        body = selectors.controlled_substance_csv(entries, role=self.actor.role)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="controlled-substance-log.csv"'
        return response

    @extend_schema(
        summary=(
            "Correct an entry (amount, dose, weight, lot, route, who gave it, start time): "
            "a new entry referencing it, with a reason"
        ),
        request=CorrectionInputSerializer,
        responses={201: LogEntrySerializer},
    )
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        entry = get_object_or_404(scope_to_actor(ControlledSubstanceEntry.objects.all(), self.actor), pk=pk)
        patients_shown(request, [entry.patient_id])
        data = self._valid(CorrectionInputSerializer)
        correction = services.controlled_substance_correct(entry=entry, actor=request.user, now=timezone.now(), **data)
        return Response(
            LogEntrySerializer(correction, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )

    def _valid(self, serializer_class) -> dict:
        return self.scoped_input(serializer_class)
