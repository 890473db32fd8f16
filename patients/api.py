"""Patients and their screening.

What each role sees of a patient:
- front desk: contact and scheduling data; the clinical fields (medications, seizure history)
  come back as null and cannot be written;
- nurses and prescribers: everything, plus evaluations, flags and the eligibility verdict; only a
  prescriber records an evaluation (a diagnosis is theirs to put on the chart, as on the chart page);
- the patient: only their own record (others answer 404), and may change only their reminder
  preferences;
- clinic administrators: configuration only, no patient data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from clinic import api_fields
from clinic.api import AtomicWritesMixin, CleanModelSerializer, ClinicAPIMixin, require_clinic_wide
from clinic.audit import patients_shown
from clinic.errors import DomainError
from clinic.models import Channel
from clinic.permissions import ADMINS, CLINICIANS, DESK, PATIENTS, PRESCRIBERS, FieldVisibilityMixin, hidden_fields
from patients.models import Contraindication, Evaluation, Patient, PatientFlag, one_form
from patients.services import (
    EVALUATION_FIELDS,
    different_person_reason,
    evaluation_record,
    identity_would_change,
    patient_home_site_check,
    patient_identity_check,
    patient_register,
)


class PhoneField(PhoneNumberField):
    def to_representation(self, value):
        return str(value) if value else ""


class PatientSerializer(FieldVisibilityMixin, CleanModelSerializer):
    visibility_kind = "patient"

    date_of_birth = api_fields.DateField(earliest=api_fields.BIRTH_EARLIEST)
    mobile_phone = PhoneField(required=False, allow_blank=True)
    escort_phone = PhoneField(required=False, allow_blank=True)
    emergency_contact_phone = PhoneField(required=False, allow_blank=True)
    medications = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, help_text="Clinicians only; null for other roles."
    )
    seizure_history = serializers.BooleanField(
        required=False, allow_null=True, help_text="Clinicians only; null for other roles."
    )
    different_person = serializers.BooleanField(
        required=False,
        write_only=True,
        help_text=(
            "True confirms that the patient is someone other than the patient of the same name and date of "
            "birth a 409 named: on a registration, or on an edit of the name or date of birth (recorded in "
            "the chart's history)."
        ),
    )

    class Meta:
        model = Patient
        fields = [
            "id",
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "mobile_phone",
            "home_site",
            "time_zone",
            "preferred_channel",
            "reminder_consent",
            "escort_name",
            "escort_phone",
            "emergency_contact_name",
            "emergency_contact_phone",
            "emergency_contact_relation",
            "medications",
            "seizure_history",
            "different_person",
        ]

    def validate(self, attrs):
        changes_identity = self.instance is None or identity_would_change(self.instance, attrs)
        if attrs.get("different_person") is not None and not changes_identity:
            raise serializers.ValidationError(
                {
                    "different_person": [
                        "Only a registration or an edit of the name or date of birth is confirmed as a "
                        "different person; this edit changes neither."
                    ]
                }
            )
        sent = sorted(hidden_fields(self.context.get("role"), "patient") & set(attrs))
        if sent:
            raise serializers.ValidationError({name: ["Only clinicians can record this."] for name in sent})
        if attrs.get("medications", "") is None:
            attrs["medications"] = ""
        if "seizure_history" in attrs and attrs["seizure_history"] is None:
            attrs.pop("seizure_history")
        if "reminder_consent" in attrs and (
            self.instance is None or attrs["reminder_consent"] != self.instance.reminder_consent
        ):
            attrs["reminder_consent_changed_at"] = timezone.now()
        return super().validate(attrs)

    def validate_first_name(self, value: str) -> str:
        return one_form(value)  # one Unicode form, as every other write stores names (search finds them)

    def validate_last_name(self, value: str) -> str:
        return one_form(value)

    def change_reason(self) -> str:
        confirmed = getattr(self, "_confirmed_different", None)
        return different_person_reason("Changed through the API", confirmed) if confirmed else super().change_reason()

    def update(self, instance, validated_data):
        different_person = validated_data.pop("different_person", False)
        # In the view's write transaction, which patient_home_site_check locks the patient for: a new
        # home site must not leave an evaluation dated after today there (a 400 naming home_site).
        site = validated_data.get("home_site")
        if site is not None:
            patient_home_site_check(patient=instance, site=site, now=timezone.now())
        # Registration's rule on an edit too: a new name or date of birth must not make this chart a
        # second one of another patient (a 409, as registration's, locked until the commit).
        # With `different_person` the desk confirmed, having seen the 409, that this patient is
        # someone else than the chart it named; the history keeps which charts.
        self._confirmed_different = patient_identity_check(
            patient=instance, fields=validated_data, actor=self._actor_user(), different_person=different_person
        )
        return super().update(instance, validated_data)


class ReminderPreferencesSerializer(
    api_fields.StrictInputMixin, api_fields.ClinicModelFieldMapping, serializers.ModelSerializer
):
    preferred_channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    reminder_consent = serializers.BooleanField(required=False)

    class Meta:
        model = Patient
        fields = ["preferred_channel", "reminder_consent", "reminder_consent_changed_at"]
        read_only_fields = ["reminder_consent_changed_at"]

    def validate(self, attrs):
        # Asked of a channel being chosen for reminders that stay on: withdrawing consent always
        # works, whatever the channel on file (the desk may have removed the number since).
        consent = attrs.get("reminder_consent", self.instance.reminder_consent)
        channel = attrs.get("preferred_channel")
        if consent and channel == Channel.SMS and not self.instance.mobile_phone:
            raise serializers.ValidationError(
                {"preferred_channel": ["Text-message reminders need a mobile number on file."]}
            )
        return attrs


class PatientFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", help_text="Part of the first or last name or email.")

    class Meta:
        model = Patient
        fields = ["home_site", "preferred_channel", "reminder_consent", "search"]

    def filter_search(self, queryset, name, value):
        value = one_form(value)
        return queryset.filter(
            Q(first_name__icontains=value) | Q(last_name__icontains=value) | Q(email__icontains=value)
        )


@contextmanager
def duplicate_shown(request) -> Iterator[None]:
    """Names in the access log the patient a duplicate refusal names (its 409 gives their name,
    birth date and id); a refusal naming nobody (another site's patient) logs nobody."""
    try:
        yield
    except DomainError as exc:
        patients_shown(request, [(exc.details or {}).get("patient_id")])
        raise


@extend_schema_view(
    list=extend_schema(summary="List patients (a patient sees only themselves)"),
    retrieve=extend_schema(summary="One patient"),
    create=extend_schema(summary="Register a patient (front desk, clinicians)"),
    partial_update=extend_schema(summary="Edit a patient (front desk: contact data; clinicians: all)"),
)
class PatientViewSet(
    ClinicAPIMixin,
    AtomicWritesMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = PatientSerializer
    representation_etags = True
    http_method_names = ["get", "post", "patch", "head", "options"]
    access = {
        "list": DESK | PATIENTS,
        "retrieve": DESK | PATIENTS,
        "create": DESK,
        "partial_update": DESK,
        "reminder_preferences": DESK | PATIENTS,
    }
    filterset_class = PatientFilter
    ordering_fields = ["last_name", "first_name", "date_of_birth", "id"]
    ordering = ["last_name", "first_name", "id"]

    def get_queryset(self):
        queryset = Patient.objects.all()
        if self.actor.is_patient:
            return queryset.filter(pk=self.actor.patient.pk)
        return queryset

    def perform_create(self, serializer):
        # Through registration's rule, as the page and FHIR do: one person, one chart (the same
        # name and date of birth twice is refused), names trimmed and in one Unicode form.
        fields = dict(serializer.validated_data)
        different_person = fields.pop("different_person", False)
        with duplicate_shown(self.request):
            serializer.instance = patient_register(
                actor=self.request.user,
                now=timezone.now(),
                clinician=self.actor.is_clinician,
                fields=fields,
                different_person=different_person,
            )
        patients_shown(self.request, [serializer.instance.pk])  # as PatientsShownMixin's own create does

    def perform_update(self, serializer):
        with duplicate_shown(self.request):
            super().perform_update(serializer)

    def representation(self, obj):
        if self.action in ("reminder_preferences", "change_reminder_preferences"):
            return ReminderPreferencesSerializer(obj).data  # what a GET of that address answers
        return super().representation(obj)

    def get_serializer_context(self):
        return {
            **super().get_serializer_context(),
            "is_clinician": getattr(self, "request", None) is not None and self.actor.is_clinician,
            "role": self.actor.role if getattr(self, "request", None) is not None else None,
        }

    @extend_schema(summary="A patient's reminder preferences", responses=ReminderPreferencesSerializer)
    @action(detail=True, methods=["get"], url_path="reminder-preferences")
    def reminder_preferences(self, request, pk=None):
        return Response(ReminderPreferencesSerializer(self.get_object()).data)

    @extend_schema(
        summary="Change reminder preferences (the patient themselves, or the front desk)",
        request=ReminderPreferencesSerializer,
        responses=ReminderPreferencesSerializer,
    )
    @reminder_preferences.mapping.patch
    def change_reminder_preferences(self, request, pk=None):
        patient = self.get_object()
        serializer = ReminderPreferencesSerializer(patient, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = list(serializer.validated_data)
        if (
            "reminder_consent" in serializer.validated_data
            and serializer.validated_data["reminder_consent"] != patient.reminder_consent
        ):
            patient.reminder_consent_changed_at = timezone.now()
            fields.append("reminder_consent_changed_at")
        for name, value in serializer.validated_data.items():
            setattr(patient, name, value)
        patient._history_user = request.user
        patient._change_reason = "Reminder preferences changed through the API"
        if fields:
            patient.save(update_fields=[*fields, "updated_at"])
        return Response(ReminderPreferencesSerializer(patient).data)


# The PATCH mapping shares the GET action's access entry.
PatientViewSet.access = {**PatientViewSet.access, "change_reminder_preferences": DESK | PATIENTS}


# --- Screening (clinicians only) ---------------------------------------------


class EvaluationSerializer(CleanModelSerializer):
    """Reads an evaluation, and checks a new one's input field by field (the model's full_clean, so
    a bad value is a 400 naming its field); patients.services.evaluation_record records it."""

    # The date's earliest (2000) and latest (the home site's today) are evaluation_date_check's, the
    # rule the chart page and the admin use: a 400 naming `evaluated_on` with the same message.
    # Only the API's overflow guard at the top of the clinical range stays here.
    evaluated_on = api_fields.DateField(earliest=dt.date.min)

    class Meta:
        model = Evaluation
        fields = ["id", "patient", *EVALUATION_FIELDS, "recorded_by", "recorded_at"]
        read_only_fields = ["recorded_by", "recorded_at"]

    def validate(self, attrs):
        attrs["recorded_by"] = self.context["request"].user  # full_clean wants the recorder
        return super().validate(attrs)


SCREENING_ACCESS = {"list": CLINICIANS, "retrieve": CLINICIANS, "create": CLINICIANS, "destroy": CLINICIANS}
# Clinicians read evaluations; a prescriber records one. The table answers first (403 before the body
# is read); patients.services.evaluation_record refuses anyone else again, whoever calls it.
EVALUATION_ACCESS = {**SCREENING_ACCESS, "create": PRESCRIBERS}


@extend_schema_view(
    list=extend_schema(summary="Mental-health evaluations (clinicians)"),
    retrieve=extend_schema(summary="One evaluation (clinicians)"),
    create=extend_schema(summary="Record an evaluation (prescribers)"),
)
class EvaluationViewSet(
    ClinicAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Evaluation.objects.all()
    serializer_class = EvaluationSerializer
    access = EVALUATION_ACCESS
    filterset_fields = ["patient"]
    ordering_fields = ["evaluated_on", "id"]
    ordering = ["-evaluated_on", "-id"]

    def create(self, request, *args, **kwargs):
        # Recorded by the service the chart page uses too: its prescriber check, validation (a date after
        # the clinic's today is its InvalidInput naming `evaluated_on`, a 400) and history.
        serializer = self.get_serializer(data=request.data)  # the patient scoped to the actor's sites
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        evaluation = evaluation_record(
            patient=data["patient"],
            actor=request.user,
            now=timezone.now(),
            fields=data,
            reason="Recorded through the API",
        )
        return Response(self.get_serializer(evaluation).data, status=status.HTTP_201_CREATED)


class PatientFlagSerializer(CleanModelSerializer):
    contraindication = api_fields.PrimaryKeyRelatedField(
        queryset=Contraindication.objects.filter(kind=Contraindication.Kind.FLAG)
    )

    class Meta:
        model = PatientFlag
        fields = ["id", "patient", "contraindication", "notes", "recorded_by", "recorded_at"]
        read_only_fields = ["recorded_by", "recorded_at"]

    def validate(self, attrs):
        attrs["recorded_by"] = self.context["request"].user
        return super().validate(attrs)


@extend_schema_view(
    list=extend_schema(summary="Contraindication flags recorded for patients (clinicians)"),
    retrieve=extend_schema(summary="One flag (clinicians)"),
    create=extend_schema(summary="Record a flag (clinicians)"),
    destroy=extend_schema(summary="Remove a flag recorded in error (clinicians; history keeps it)"),
)
class PatientFlagViewSet(
    ClinicAPIMixin,
    AtomicWritesMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = PatientFlag.objects.select_related("contraindication")
    serializer_class = PatientFlagSerializer
    access = SCREENING_ACCESS
    representation_etags = True
    filterset_fields = ["patient", "contraindication"]
    ordering_fields = ["recorded_at", "id"]
    ordering = ["id"]


class ContraindicationSerializer(CleanModelSerializer):
    class Meta:
        model = Contraindication
        fields = ["id", "code", "label", "kind", "threshold", "description", "active"]


@extend_schema_view(
    list=extend_schema(summary="The clinic's contraindication list"),
    retrieve=extend_schema(summary="One contraindication"),
    create=extend_schema(summary="Add a contraindication (clinic admins)"),
    partial_update=extend_schema(summary="Change a contraindication (clinic admins)"),
)
class ContraindicationViewSet(
    ClinicAPIMixin,
    AtomicWritesMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Contraindication.objects.all()
    serializer_class = ContraindicationSerializer
    representation_etags = True
    http_method_names = ["get", "post", "patch", "head", "options"]
    access = {"list": CLINICIANS | ADMINS, "retrieve": CLINICIANS | ADMINS, "create": ADMINS, "partial_update": ADMINS}
    filterset_fields = ["kind", "active"]
    ordering_fields = ["label", "id"]
    ordering = ["label", "id"]

    def check_permissions(self, request):
        super().check_permissions(request)
        # The clinic's list screens every patient of every site, as a protocol books at every site:
        # a change is for clinic-wide staff, refused before the body is read.
        if request.method not in SAFE_METHODS:
            require_clinic_wide(
                self.actor,
                "The contraindication list screens patients at every site: only clinic-wide staff add or change it.",
            )
