"""Protocols, treatment plans, whole courses, and every plan adjustment.

Plans are read by clinicians in full; the front desk and the patient (their own only) see a
scheduling summary, with the clinical fields null. Each adjustment is its own endpoint, needs
a reason (kept in the plan's history) and the version the editor read (If-Match or `version`):
a stale If-Match answers 412 (`changed_since_read`, RFC 9110 §13.1.1, as every other resource), a
stale `version` in the body 409 (`stale_version`), a missing one 428. Both name the current
version. Responses carry the new version as ETag."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from clinic import api_fields
from clinic.api import (
    CONFIG_ACCESS,
    AtomicWritesMixin,
    ChangedSinceRead,
    CleanModelSerializer,
    ClinicAPIMixin,
    ConfigViewSet,
    WallClockTimeField,
    require_clinic_wide,
)
from clinic.models import Role, Site, StaffMember
from clinic.permissions import CLINICIANS, DESK, PATIENTS, PRESCRIBERS, FieldVisibilityMixin, hidden_fields
from patients.models import Patient
from scheduling import services
from scheduling.api.common import (
    APPOINTMENT_RELATED,
    ETAG_HEADER,
    IDEMPOTENCY_HEADER,
    IF_MATCH_HEADER,
    AppointmentSerializer,
    etag,
    expected_version,
    idempotent,
)
from scheduling.engine import Preferences
from scheduling.errors import StaleVersion
from scheduling.models import Appointment, Phase, Protocol, TreatmentPlan

# --- Protocols ----------------------------------------------------------------


class ProtocolSerializer(CleanModelSerializer):
    weekly_counts = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=7), required=False)

    class Meta:
        model = Protocol
        fields = [
            "id",
            "name",
            "route",
            "session_minutes",
            "infusion_minutes",
            "induction_pattern",
            "induction_sessions",
            "induction_window_days",
            "weekly_counts",
            "min_gap_hours",
            "maintenance_min_days",
            "maintenance_default_days",
            "maintenance_max_days",
            "review_after_months",
            "nurse_setup_minutes",
            "nurse_check_offsets_minutes",
            "nurse_check_minutes",
            "nurse_discharge_minutes",
            "preparation_notes",
            "active",
        ]


@extend_schema_view(
    list=extend_schema(summary="Treatment protocols"),
    retrieve=extend_schema(summary="One protocol"),
    create=extend_schema(summary="Add a protocol (clinic-wide clinic admins)"),
    partial_update=extend_schema(summary="Change a protocol (clinic-wide clinic admins)"),
)
class ProtocolViewSet(ConfigViewSet):
    queryset = Protocol.objects.all()
    serializer_class = ProtocolSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]  # retire with active=false
    access = CONFIG_ACCESS
    filterset_fields = ["route", "induction_pattern", "active"]
    ordering_fields = ["name", "id"]
    ordering = ["name", "id"]

    def check_permissions(self, request):
        super().check_permissions(request)
        # Every site books with every protocol: a change holds at sites a site's administrator does
        # not run, so it is for clinic-wide staff (as a closure of every site is). Checked before the
        # body is read, so the answer does not depend on whether the change was valid; OPTIONS
        # describes no write to anyone else.
        if request.method not in SAFE_METHODS:
            require_clinic_wide(
                self.actor, "Protocols are shared by every site: only clinic-wide staff add or change one."
            )


# --- Plans --------------------------------------------------------------------

# Shown only to the roles clinic.permissions.FIELD_READERS names; null for the others.
CLINICAL_PLAN_FIELDS = (
    "needs_attention",
    "attention_reason",
    "eligibility_override_by",
    "eligibility_override_reason",
    "eligibility_override_at",
    "eligibility_override_covers",
    "end_reason",
)


class PlanSerializer(FieldVisibilityMixin, serializers.ModelSerializer):
    visibility_kind = "plan"

    protocol_name = serializers.CharField(source="protocol.name", read_only=True)
    needs_attention = serializers.BooleanField(read_only=True, allow_null=True)
    attention_reason = serializers.CharField(read_only=True, allow_null=True)
    eligibility_override_by = serializers.IntegerField(
        source="eligibility_override_by_id", read_only=True, allow_null=True
    )
    eligibility_override_reason = serializers.CharField(read_only=True, allow_null=True)
    eligibility_override_at = api_fields.DateTimeField(read_only=True, allow_null=True)
    eligibility_override_covers = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        allow_null=True,
        help_text="The screening reasons the override was given for; a reason found later needs a new override.",
    )
    end_reason = serializers.CharField(read_only=True, allow_null=True)
    earliest_start = WallClockTimeField(read_only=True, allow_null=True)
    latest_start = WallClockTimeField(read_only=True, allow_null=True)

    class Meta:
        model = TreatmentPlan
        fields = [
            "id",
            "patient",
            "protocol",
            "protocol_name",
            "prescriber",
            "site",
            "phase",
            "status",
            "start_date",
            "induction_round",
            "maintenance_interval_days",
            "review_date",
            "preferred_weekdays",
            "earliest_start",
            "latest_start",
            "paused_at",
            "ended_at",
            "version",
            *CLINICAL_PLAN_FIELDS,
        ]
        read_only_fields = fields


class PlanCreateSerializer(api_fields.StrictSerializer):
    patient = api_fields.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    protocol = api_fields.PrimaryKeyRelatedField(queryset=Protocol.objects.all())
    prescriber = api_fields.PrimaryKeyRelatedField(
        queryset=StaffMember.objects.filter(role=Role.PRESCRIBER, active=True),
        required=False,
        help_text="Defaults to the requesting prescriber.",
    )
    site = api_fields.PrimaryKeyRelatedField(
        queryset=Site.objects.all(), required=False, help_text="Defaults to the patient's home site."
    )
    start_date = api_fields.DateField()
    maintenance_interval_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    review_date = api_fields.DateField(required=False)
    preferred_weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, allow_empty=False, max_length=7
    )
    earliest_start = WallClockTimeField(required=False)
    latest_start = WallClockTimeField(required=False)

    def validate(self, attrs):
        earliest, latest = attrs.get("earliest_start"), attrs.get("latest_start")
        if earliest is not None and latest is not None and earliest > latest:
            raise serializers.ValidationError({"latest_start": ["Must not be before earliest_start."]})
        return attrs


class AdjustmentSerializer(api_fields.StrictSerializer):
    reason = serializers.CharField(max_length=2000, help_text="Why; kept in the plan's history.")
    version = serializers.IntegerField(
        min_value=1, max_value=10**9, required=False, help_text="The version you read, if you do not send If-Match."
    )


class ChangeIntervalSerializer(AdjustmentSerializer):
    days = serializers.IntegerField(min_value=1, max_value=365)


class ChangeReviewDateSerializer(AdjustmentSerializer):
    review_date = api_fields.DateField()


class ResumeSerializer(AdjustmentSerializer):
    resume_date = api_fields.DateField()


class NewInductionSerializer(AdjustmentSerializer):
    start_date = api_fields.DateField()


class PlanChangeResultSerializer(serializers.Serializer):
    plan = PlanSerializer()
    appointments = AppointmentSerializer(
        many=True, help_text="Sessions booked or moved by this change (resume, new induction, interval)."
    )


class ProposeCourseSerializer(api_fields.StrictSerializer):
    start_date = api_fields.DateField()
    site = api_fields.PrimaryKeyRelatedField(
        queryset=Site.objects.all(), required=False, help_text="Another site than the plan's, to compare."
    )


class ProposedSessionSerializer(api_fields.StrictSerializer):
    sequence = serializers.IntegerField(required=False, min_value=1, help_text="Position in the course, from 1.")
    phase = serializers.ChoiceField(choices=[Phase.INDUCTION], required=False, help_text="A course is the induction.")
    # UTC with `Z` whatever the server's zone, exactly as 409 alternatives give them.
    starts_at = api_fields.DateTimeField(default_timezone=dt.UTC)
    ends_at = api_fields.DateTimeField(default_timezone=dt.UTC)
    chair = api_fields.IdField(source="chair_id")
    nurse = api_fields.IdField(source="nurse_id")
    site = api_fields.IdField(source="site_id")
    why = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Why the site's placement policy chose this time, in words: the session's time and chair, then "
        "the reasons (answers only; ignored on input).",
    )
    because = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="The reasons of `why` alone, for a line that already names the time (answers only; ignored on "
        "input).",
    )


class CourseProposalSerializer(serializers.Serializer):
    site = serializers.IntegerField(source="site.pk")
    sessions = ProposedSessionSerializer(many=True)
    notes = serializers.ListField(child=serializers.CharField())


class BookCourseSerializer(api_fields.StrictSerializer):
    start_date = api_fields.DateField(required=False, help_text="Plan afresh from this day ...")
    sessions = ProposedSessionSerializer(
        many=True, required=False, help_text="... or book these (possibly adjusted) sessions."
    )

    def validate(self, attrs):
        if not attrs.get("start_date") and not attrs.get("sessions"):
            raise serializers.ValidationError({"start_date": ["Give the proposed sessions or a start date."]})
        if attrs.get("start_date") and attrs.get("sessions"):
            # Two answers to one question: neither is dropped silently.
            raise serializers.ValidationError({"start_date": ["Give the proposed sessions or a start date, not both."]})
        sessions = sorted(attrs.get("sessions") or [], key=lambda session: session["starts_at"])
        for position, session in enumerate(sessions, start=1):
            if session["starts_at"] >= session["ends_at"]:
                raise serializers.ValidationError({"sessions": ["Each session must start before it ends."]})
            # Sessions are numbered by time; a sequence that says otherwise cannot be honoured.
            if session.get("sequence", position) != position:
                raise serializers.ValidationError(
                    {
                        "sessions": [
                            f"The session at {session['starts_at']:%Y-%m-%dT%H:%MZ} is number {position} by time, "
                            f"not {session['sequence']}."
                        ]
                    }
                )
        return attrs


class PlanFilter(django_filters.FilterSet):
    class Meta:
        model = TreatmentPlan
        fields = ["patient", "protocol", "site", "status", "phase", "needs_attention"]

    def filter_queryset(self, queryset):
        # A field hidden from the role is no filter either: comparing the counts would tell it.
        role = getattr(getattr(self.request, "user", None), "staff", None)
        hidden = hidden_fields(role.role if role is not None and role.active else None, "plan")
        for name in hidden & set(self.form.cleaned_data):
            if self.form.cleaned_data[name] not in (None, ""):
                raise serializers.ValidationError({name: ["This filter is for clinicians."]})
        return super().filter_queryset(queryset)


STATE_ERRORS = ("409",)
EDIT_ERRORS = ("409", "412", "428")


# The plan changes: each runs a plan service through `_adjust`, which reads If-Match (the version).
PLAN_CHANGES = frozenset(
    {
        "change_interval",
        "change_review_date",
        "pause",
        "resume",
        "end",
        "new_induction",
        "clear_attention",
        "override_eligibility",
    }
)


@extend_schema_view(
    list=extend_schema(summary="Treatment plans (a patient sees only their own summary)"),
    retrieve=extend_schema(summary="One plan; the ETag header carries its version", parameters=[ETAG_HEADER]),
)
class PlanViewSet(
    ClinicAPIMixin, AtomicWritesMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = PlanSerializer
    filterset_class = PlanFilter
    # The plan changes read If-Match (`_adjust`); an If-Match sent to any other of its actions (a
    # course booked, a plan created) is refused (412) rather than ignored.
    honours_if_match = PLAN_CHANGES
    ordering_fields = ["start_date", "review_date", "id"]
    ordering = ["-start_date", "-id"]
    access = {
        "list": DESK | PATIENTS,
        "retrieve": DESK | PATIENTS,
        "create": CLINICIANS,
        "propose_course": DESK,
        "book_course": DESK,
        # Clinical decisions about the course are the prescriber's; pausing and resuming are not, but a
        # resume that moves the plan into maintenance is (plan_resume refuses anyone else: 403).
        "change_interval": PRESCRIBERS,
        "change_review_date": PRESCRIBERS,
        "pause": CLINICIANS,
        "resume": CLINICIANS,
        "end": PRESCRIBERS,
        "new_induction": PRESCRIBERS,
        "clear_attention": CLINICIANS,
        "override_eligibility": PRESCRIBERS,
    }
    error_codes = {
        "create": STATE_ERRORS,
        "propose_course": STATE_ERRORS,
        "book_course": ("409", "422"),
        **dict.fromkeys(PLAN_CHANGES, EDIT_ERRORS),
    }

    def get_queryset(self):
        queryset = TreatmentPlan.objects.select_related("protocol")
        if self.actor.is_patient:
            return queryset.filter(patient=self.actor.patient)
        return queryset

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "is_clinician": self.actor.is_clinician, "role": self.actor.role}

    def retrieve(self, request, *args, **kwargs):
        plan = self.get_object()
        return Response(self.get_serializer(plan).data, headers={"ETag": etag(plan.version)})

    def _valid(self, serializer_class) -> dict:
        return self.scoped_input(serializer_class, context=self.get_serializer_context())

    def _plan_answer(self, plan: TreatmentPlan, appointments=(), code: int = status.HTTP_200_OK) -> Response:
        plan = self.get_queryset().get(pk=plan.pk)
        ids = [a.pk for a in appointments]
        booked = Appointment.objects.filter(pk__in=ids).select_related(*APPOINTMENT_RELATED).order_by("starts_at")
        context = self.get_serializer_context()
        body = {
            "plan": PlanSerializer(plan, context=context).data,
            "appointments": AppointmentSerializer(booked, many=True, context=context).data,
        }
        return Response(body, status=code, headers={"ETag": etag(plan.version)})

    @extend_schema(
        summary="Create a plan from a protocol (clinicians)",
        request=PlanCreateSerializer,
        responses={201: PlanSerializer},
        parameters=[ETAG_HEADER],
    )
    def create(self, request):
        data = self._valid(PlanCreateSerializer)
        prescriber = data.get("prescriber") or self.actor.staff
        prefs = None
        if any(name in data for name in ("preferred_weekdays", "earliest_start", "latest_start")):
            prefs = Preferences(
                weekdays=frozenset(data.get("preferred_weekdays") or range(5)),
                earliest=data.get("earliest_start"),
                latest=data.get("latest_start"),
            )
        plan = services.plan_create(
            patient=data["patient"],
            protocol=data["protocol"],
            prescriber=prescriber,
            start_date=data["start_date"],
            actor=request.user,
            site=data.get("site"),
            maintenance_interval_days=data.get("maintenance_interval_days"),
            review_date=data.get("review_date"),
            preferences=prefs,
        )
        plan = self.filter_queryset(self.get_queryset()).get(pk=plan.pk)
        return Response(
            self.get_serializer(plan).data, status=status.HTTP_201_CREATED, headers={"ETag": etag(plan.version)}
        )

    @extend_schema(
        summary="Propose a whole induction course (books nothing)",
        request=ProposeCourseSerializer,
        responses=CourseProposalSerializer,
    )
    @action(detail=True, methods=["post"], url_path="propose-course")
    def propose_course(self, request, pk=None):
        plan = self.get_object()
        data = self._valid(ProposeCourseSerializer)
        proposal = services.course_propose(
            plan=plan, start_date=data["start_date"], now=timezone.now(), site=data.get("site"), actor=request.user
        )
        return Response(CourseProposalSerializer(proposal).data)

    @extend_schema(
        summary="Book a whole induction course, all sessions or none",
        request=BookCourseSerializer,
        responses={201: PlanChangeResultSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"], url_path="book-course")
    def book_course(self, request, pk=None):
        plan = self.get_object()

        def perform() -> Response:
            data = self._valid(BookCourseSerializer)
            sessions = None
            if data.get("sessions"):
                sessions = [
                    services.ProposedSession(
                        sequence=index + 1,
                        phase=Phase.INDUCTION,
                        starts_at=s["starts_at"],
                        ends_at=s["ends_at"],
                        chair_id=s["chair_id"],
                        nurse_id=s["nurse_id"],
                        site_id=s["site_id"],
                    )
                    for index, s in enumerate(sorted(data["sessions"], key=lambda session: session["starts_at"]))
                ]
            booked = services.course_book(
                plan=plan,
                actor=request.user,
                now=timezone.now(),
                sessions=sessions,
                start_date=data.get("start_date"),
            )
            return self._plan_answer(plan, booked, status.HTTP_201_CREATED)

        return idempotent(request, perform)

    def _adjust(self, serializer_class, change, *fields: str, dated: bool = True) -> Response:
        """Run the plan service `change` with the request's reason, If-Match version and the named
        `fields` of the serializer's data (and the time, when `dated`)."""
        plan = self.get_object()
        data = self._valid(serializer_class)
        version = expected_version(self.request, data.get("version"), plan.version)
        when = {"now": timezone.now()} if dated else {}
        try:
            result = change(
                plan=plan,
                reason=data["reason"],
                actor=self.request.user,
                expected_version=version,
                **{name: data[name] for name in fields},
                **when,
            )
        except StaleVersion as exc:
            # The service compares under the plan's lock; an If-Match that no longer holds is the
            # header's failed precondition (412), a `version` in the body a conflict (409).
            if data.get("version") is not None or self.request.headers.get("If-Match") is None:
                raise
            current = exc.details["current_version"]
            raise ChangedSinceRead(
                exc.message, details={"current_etag": f'"{current}"', "current_version": current}
            ) from exc
        if isinstance(result, list):
            appointments = result
        else:  # a maintenance re-plan: the sessions it added or moved
            appointments = [*getattr(result, "created", []), *(a for a, _old in getattr(result, "moved", []))]
        return self._plan_answer(plan, appointments)

    @extend_schema(
        summary="Change the maintenance interval",
        request=ChangeIntervalSerializer,
        responses=PlanChangeResultSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
    )
    @action(detail=True, methods=["post"], url_path="change-interval")
    def change_interval(self, request, pk=None):
        return self._adjust(ChangeIntervalSerializer, services.plan_change_interval, "days")

    @extend_schema(
        summary="Change the review date",
        request=ChangeReviewDateSerializer,
        responses=PlanChangeResultSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
    )
    @action(detail=True, methods=["post"], url_path="change-review-date")
    def change_review_date(self, request, pk=None):
        return self._adjust(ChangeReviewDateSerializer, services.plan_change_review_date, "review_date")

    @extend_schema(
        summary="Pause: future sessions are released",
        request=AdjustmentSerializer,
        responses=PlanChangeResultSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
    )
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._adjust(AdjustmentSerializer, services.plan_pause)

    @extend_schema(
        summary="Resume a paused plan; the rest is booked again or nothing changes",
        request=ResumeSerializer,
        responses=PlanChangeResultSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._adjust(ResumeSerializer, services.plan_resume, "resume_date")

    @extend_schema(
        summary="End the plan early; future sessions are released",
        request=AdjustmentSerializer,
        responses=PlanChangeResultSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
    )
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        return self._adjust(AdjustmentSerializer, services.plan_end)

    @extend_schema(
        summary="Start a new induction after a relapse, all sessions or none",
        request=NewInductionSerializer,
        responses=PlanChangeResultSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
    )
    @action(detail=True, methods=["post"], url_path="new-induction")
    def new_induction(self, request, pk=None):
        return self._adjust(NewInductionSerializer, services.plan_new_induction, "start_date")

    @extend_schema(
        summary="Clear the needs-attention flag after review",
        request=AdjustmentSerializer,
        responses=PlanChangeResultSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
    )
    @action(detail=True, methods=["post"], url_path="clear-attention")
    def clear_attention(self, request, pk=None):
        return self._adjust(AdjustmentSerializer, services.plan_clear_attention, dated=False)

    @extend_schema(
        summary="Treat despite a screening flag (prescribers)",
        request=AdjustmentSerializer,
        responses=PlanChangeResultSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
    )
    @action(detail=True, methods=["post"], url_path="override-eligibility")
    def override_eligibility(self, request, pk=None):
        return self._adjust(AdjustmentSerializer, services.plan_override_eligibility)
