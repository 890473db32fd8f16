"""Questionnaire responses and outcome summaries.

Who may do what:
- patients: submit their own questionnaires and list their own (another patient's response,
  or a submission naming another patient, answers 404);
- nurses and prescribers: list and submit for any patient at their sites, and read the outcome summary;
- front desk and clinic administrators: nothing here (403) — scores are clinical data.

Included from api/urls.py under /api/v1/.
"""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from clinic import api_fields
from clinic.api import ClinicAPIMixin
from clinic.audit import patients_shown
from clinic.permissions import CLINICIANS, PATIENTS, scope_to_actor
from measures.models import InstrumentChoice, QuestionnaireResponse, Source
from measures.scoring import SPECS
from measures.selectors import outcome_summary, responses_visible
from measures.services import questionnaire_submit
from patients.models import Patient
from scheduling.models import Appointment


class QuestionnaireResponseSerializer(serializers.ModelSerializer):
    severity_label = serializers.CharField(read_only=True)
    flag_labels = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = QuestionnaireResponse
        fields = [
            "id",
            "patient",
            "instrument",
            "answers",
            "total_score",
            "severity",
            "severity_label",
            "flags",
            "flag_labels",
            "appointment",
            "completed_at",
            "entered_by",
            "source",
            "created_at",
        ]
        read_only_fields = fields


class QuestionnaireSubmitSerializer(api_fields.StrictSerializer):
    patient = api_fields.IdField(required=False, help_text="Staff: required. Patients: omit, or their own id.")
    instrument = serializers.ChoiceField(choices=InstrumentChoice.choices)
    answers = serializers.ListField(child=serializers.JSONField(), help_text="Item answers in questionnaire order.")
    completed_at = api_fields.DateTimeField(required=False, help_text="Defaults to now.")
    appointment = api_fields.IdField(required=False, allow_null=True, help_text="The session it was taken for.")


class ResponseFilter(django_filters.FilterSet):
    class Meta:
        model = QuestionnaireResponse
        fields = ["patient", "instrument", "source"]


@extend_schema_view(
    list=extend_schema(summary="Questionnaire responses (clinicians: all; a patient: their own)"),
    retrieve=extend_schema(summary="One questionnaire response"),
)
class QuestionnaireResponseViewSet(
    ClinicAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = QuestionnaireResponseSerializer
    http_method_names = ["get", "post", "head", "options"]
    access = {"list": CLINICIANS | PATIENTS, "retrieve": CLINICIANS | PATIENTS, "create": CLINICIANS | PATIENTS}
    filterset_class = ResponseFilter
    ordering_fields = ["completed_at", "id", "total_score"]
    ordering = ["completed_at", "id"]

    def get_queryset(self):
        queryset = responses_visible()
        if self.actor.is_patient:
            return queryset.filter(patient=self.actor.patient)
        return queryset

    @extend_schema(
        summary="Submit a questionnaire (a patient for themselves, a clinician for any patient)",
        description=(
            "The same answers sent again within ten minutes (same patient, questionnaire, session and "
            "source, and the same completed_at when one is given) store nothing new: the answer is the "
            "response stored the first time."
        ),
        request=QuestionnaireSubmitSerializer,
        responses={201: QuestionnaireResponseSerializer},
    )
    def create(self, request, *args, **kwargs):
        data = QuestionnaireSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if self.actor.is_patient:
            patient = self.actor.patient
            if values.get("patient") not in (None, patient.pk):
                raise exceptions.NotFound()  # another patient's record: as if it did not exist
            source = Source.PORTAL
        else:
            if "patient" not in values:
                raise serializers.ValidationError({"patient": ["Name the patient."]})
            patient = get_object_or_404(scope_to_actor(Patient.objects.all(), self.actor), pk=values["patient"])
            source = Source.STAFF
        appointment = None
        if values.get("appointment") is not None:
            appointment = (
                scope_to_actor(Appointment.objects.all(), self.actor)
                .filter(pk=values["appointment"], patient=patient)
                .first()
            )
            if appointment is None:
                raise serializers.ValidationError({"appointment": ["No such session for this patient."]})
        response = questionnaire_submit(
            patient=patient,
            instrument=values["instrument"],
            answers=values["answers"],
            entered_by=request.user,
            source=source,
            now=timezone.now(),
            completed_at=values.get("completed_at"),
            appointment=appointment,
        )
        return Response(QuestionnaireResponseSerializer(response).data, status=status.HTTP_201_CREATED)


# --- Outcome summary (clinicians) --------------------------------------------


class ScorePointSerializer(serializers.Serializer):
    completed_at = api_fields.DateTimeField()
    total = serializers.IntegerField()


class InstrumentOutcomeSerializer(serializers.Serializer):
    instrument = serializers.CharField()
    name = serializers.CharField()
    baseline = ScorePointSerializer(allow_null=True)
    latest = ScorePointSerializer(allow_null=True)
    reduction_pct = serializers.FloatField(allow_null=True, help_text="From baseline to latest; negative when worse.")
    response = serializers.BooleanField(help_text="Latest at least 50 % below baseline.")
    remission = serializers.BooleanField(allow_null=True, help_text="PHQ-9 below 5; null for other instruments.")
    lost_response = serializers.BooleanField()


class SuggestionSerializer(serializers.Serializer):
    current_days = serializers.IntegerField()
    suggested_days = serializers.IntegerField()
    at_minimum = serializers.BooleanField()
    instruments = serializers.ListField(child=serializers.CharField())


class OutcomeSummarySerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    plan = serializers.IntegerField(allow_null=True)
    first_session_at = api_fields.DateTimeField(allow_null=True)
    outcomes = InstrumentOutcomeSerializer(many=True)
    interval_suggestion = SuggestionSerializer(
        allow_null=True, help_text="A suggestion for the clinician; the plan is never changed automatically."
    )
    flags = serializers.ListField(
        child=serializers.DictField(), help_text="Latest responses with items needing attention."
    )


class NoQuerySerializer(api_fields.StrictQueryMixin, serializers.Serializer):
    """The summary reads no query parameters: any sent is refused rather than ignored."""


class OutcomeSummaryView(ClinicAPIMixin, APIView):
    access = {"get": CLINICIANS}

    @extend_schema(
        summary="Baseline, latest, response, remission and interval suggestion (clinicians)",
        responses=OutcomeSummarySerializer,
    )
    def get(self, request, patient_id: int):
        NoQuerySerializer(data=request.query_params).is_valid(raise_exception=True)
        patient = get_object_or_404(scope_to_actor(Patient.objects.all(), self.actor), pk=patient_id)
        patients_shown(request, [patient.pk])
        # The caller's sites' plans and sessions only, as the chart shows them.
        summary = outcome_summary(
            patient=patient,
            now=timezone.now(),
            plans=list(scope_to_actor(patient.plans.select_related("protocol"), self.actor)),
            appointments=list(
                scope_to_actor(Appointment.objects.filter(patient=patient), self.actor).order_by("starts_at")
            ),
        )
        suggestion = summary.suggestion
        body = {
            "patient": patient.pk,
            "plan": summary.plan.pk if summary.plan else None,
            "first_session_at": summary.first_session.starts_at if summary.first_session else None,
            "outcomes": [
                {
                    "instrument": o.instrument.value,
                    "name": SPECS[o.instrument].name,
                    "baseline": o.baseline,
                    "latest": o.latest,
                    "reduction_pct": o.reduction_pct,
                    "response": o.response,
                    "remission": o.remission,
                    "lost_response": o.lost_response,
                }
                for o in summary.outcomes.values()
            ],
            "interval_suggestion": None
            if suggestion is None
            else {
                "current_days": suggestion.current_days,
                "suggested_days": suggestion.suggested_days,
                "at_minimum": suggestion.at_minimum,
                "instruments": [i.value for i in suggestion.instruments],
            },
            "flags": [
                {"response": r.pk, "instrument": r.instrument, "completed_at": r.completed_at, "flags": r.flags}
                for r in summary.latest_flagged
            ],
        }
        return Response(OutcomeSummarySerializer(body).data)


router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("questionnaire-responses", QuestionnaireResponseViewSet, basename="questionnaire-response")

urlpatterns = [
    *router.urls,
    path("patients/<int:patient_id>/outcomes/", OutcomeSummaryView.as_view(), name="patient-outcomes"),
]
