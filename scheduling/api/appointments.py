"""Appointments and their actions, and reminders (read only).

Front desk and clinicians book, move, cancel, check in, record who drives the patient home
and mark no-shows; clinicians start and complete sessions. A patient sees only their own
sessions, may confirm them online until they start and cancel them until the site's notice period
(ReminderPolicy.patient_notice_hours)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clinic import api_fields
from clinic.api import ClinicAPIMixin, representation_etag
from clinic.models import Chair, Role, Site, StaffMember
from clinic.permissions import CLINICIANS, DESK, PATIENTS, actor_for
from patients.models import Patient
from scheduling import services
from scheduling.api.common import APPOINTMENT_RELATED, IDEMPOTENCY_HEADER, AppointmentSerializer, idempotent
from scheduling.errors import InvalidState
from scheduling.models import (
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    Phase,
    Reminder,
    ReminderKind,
    ReminderStatus,
    TreatmentPlan,
)
from scheduling.selectors import booking_references, patient_appointments, shared_sites_with_schedule
from scheduling.services.appointments import require_online_cancel_open

PATIENT_CANCEL_REASON = "Cancelled by the patient online"


class BookSerializer(api_fields.FieldPrototypesMixin, api_fields.StrictSerializer):
    # The patient comes with the home site (their default time zone for reminders), the site
    # with its opening hours and reminder policy, the nurse with the name the answer shows,
    # so the booking reads none of them again.
    patient = api_fields.PrimaryKeyRelatedField(queryset=Patient.objects.select_related("home_site"))
    site = api_fields.PrimaryKeyRelatedField(queryset=Site.objects.all())
    starts_at = api_fields.DateTimeField()
    plan = api_fields.PrimaryKeyRelatedField(queryset=TreatmentPlan.objects.all(), required=False, allow_null=True)
    phase = serializers.ChoiceField(choices=Phase.choices, required=False)
    chair = api_fields.PrimaryKeyRelatedField(queryset=Chair.objects.all(), required=False, allow_null=True)
    nurse = api_fields.PrimaryKeyRelatedField(
        queryset=StaffMember.objects.filter(role=Role.NURSE).select_related("user"), required=False, allow_null=True
    )
    duration_minutes = serializers.IntegerField(min_value=15, max_value=480, required=False)
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="A prescriber accepting a plan-rule break says why (403 for anyone else).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Built once per database vendor (the opening-hours aggregate depends on it); the
        # field clones it for each look-up, and scoping it to the actor's sites is cached too.
        self.fields["site"].queryset = shared_sites_with_schedule()
        self.preloaded: dict[str, object] | None = None

    def to_internal_value(self, data):
        # A staff member's booking reads its patient, site, chair and nurse in one statement,
        # scoped to their sites by the same rules as the fields' querysets.
        request = self.context.get("request")
        if request is not None and isinstance(data, Mapping):
            actor = actor_for(request)
            if actor.is_staff:
                found = booking_references(
                    staff=actor.staff,
                    **{f"{name}_id": api_fields.id_or_none(data[name]) for name in PRELOADED if name in data},
                )
                self.preloaded = {name: found[name] for name in PRELOADED if name in data}
        return super().to_internal_value(data)


PRELOADED = ("patient", "site", "chair", "nurse")


class MoveSerializer(api_fields.StrictSerializer):
    starts_at = api_fields.DateTimeField()
    chair = api_fields.PrimaryKeyRelatedField(queryset=Chair.objects.all(), required=False, allow_null=True)
    nurse = api_fields.PrimaryKeyRelatedField(
        queryset=StaffMember.objects.filter(role=Role.NURSE), required=False, allow_null=True
    )
    override_reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class CancelSerializer(api_fields.StrictSerializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="Required for staff; patients may leave it out."
    )
    rebook = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Staff only: also book the replacement a cancelled induction session needs. Never implied.",
    )


class NoShowSerializer(api_fields.StrictSerializer):
    rebook = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also book the replacement a missed induction session needs. Never implied.",
    )


# A patient's own cancel is answered as the portal answers it: the course's outcome (what the round
# now misses, the flag raised for the clinician and its words, which are the flag's reason) is the
# clinicians' (clinic.permissions.FIELD_READERS: plan.needs_attention, plan.attention_reason).
PATIENT_COURSE_SUMMARY = "Your session is cancelled. The clinic will contact you to rebook."
PATIENT_COURSE_OUTCOME: dict[str, object] = {
    "summary": PATIENT_COURSE_SUMMARY,
    "short_by": None,
    "rebooked": [],
    "replacement_starts_at": None,
    "replacement_why": None,
    "replacement_chair": None,
    "replacement_nurse": None,
    "plan_flagged": None,
}


class CourseOutcomeSerializer(serializers.Serializer):
    summary = serializers.CharField(
        help_text="What the cancellation did to the course, in words; to a patient, only that the clinic "
        "will contact them."
    )
    short_by = serializers.IntegerField(
        allow_null=True, help_text="Induction sessions the round is now missing; null in a patient's answer."
    )
    rebooked = serializers.ListField(
        child=serializers.DictField(),
        help_text="Replacements booked (only when asked; never for a patient): each with `id`, `starts_at` and "
        "`why`, the reasons the course site's placement policy chose its time (the summary names the time and "
        "chair).",
    )
    replacement_starts_at = serializers.DateTimeField(
        allow_null=True, help_text="The first replacement that would fit; null in a patient's answer."
    )
    replacement_why = serializers.CharField(
        allow_null=True,
        help_text="Why the course site's placement policy chose that replacement time: the reasons alone, in "
        "words (the summary names the time and chair); null when there is no replacement and in a patient's "
        "answer.",
    )
    replacement_chair = serializers.IntegerField(
        allow_null=True,
        help_text="The chair (id) of that replacement: with `replacement_starts_at` and `replacement_nurse`, "
        "`POST /appointments/` books it as offered; null when there is none and in a patient's answer.",
    )
    replacement_nurse = serializers.IntegerField(
        allow_null=True,
        help_text="The nurse (staff id) booking would give that replacement; null when there is none and in a "
        "patient's answer.",
    )
    plan_flagged = serializers.BooleanField(
        allow_null=True, help_text="The plan is flagged for the clinician; null in a patient's answer."
    )


class CancelResultSerializer(AppointmentSerializer):
    course_outcome = CourseOutcomeSerializer(read_only=True)

    class Meta(AppointmentSerializer.Meta):
        fields = [*AppointmentSerializer.Meta.fields, "course_outcome"]
        read_only_fields = fields


class UndoCheckInSerializer(api_fields.StrictSerializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the check-in was a mistake; kept in history.")


class RideSerializer(api_fields.StrictSerializer):
    # Length and blankness are the service's to refuse (InvalidInput naming the field), in the
    # same words the board shows.
    ride_home = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        help_text="Who drives the patient home after the session (the patient must not drive): "
        "a name, and who they are to the patient; at most 120 characters.",
    )


class AppointmentFilter(django_filters.FilterSet):
    starts_after = api_fields.IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = api_fields.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    status = django_filters.MultipleChoiceFilter(choices=AppointmentStatus.choices)

    class Meta:
        model = Appointment
        fields = ["patient", "plan", "site", "chair", "nurse", "phase", "status", "starts_after", "starts_before"]


CONFLICTS = ("409",)


@extend_schema_view(
    list=extend_schema(summary="Appointments (a patient sees only their own); filter by patient and date range"),
    retrieve=extend_schema(summary="One appointment"),
)
class AppointmentViewSet(ClinicAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AppointmentSerializer
    filterset_class = AppointmentFilter
    representation_etags = True  # If-Match on an action holds when the session is as it was read
    ordering_fields = ["starts_at", "id", "status"]
    ordering = ["starts_at", "id"]
    access = {
        "list": DESK | PATIENTS,
        "retrieve": DESK | PATIENTS,
        "create": DESK,
        "move": DESK,
        "cancel": DESK | PATIENTS,
        "confirm": DESK | PATIENTS,
        "check_in": DESK,
        "undo_check_in": DESK,
        "ride": DESK,
        "start": CLINICIANS,
        "complete": CLINICIANS,
        "no_show": DESK,
    }
    error_codes = {"*": CONFLICTS, "create": ("409", "422"), "move": ("409", "422")}

    def get_queryset(self):
        queryset = Appointment.objects.select_related(*APPOINTMENT_RELATED)
        if self.actor.is_patient:
            # As the portal shows them: no FHIR holds, held or lapsed.
            return patient_appointments(self.actor.patient).select_related(*APPOINTMENT_RELATED)
        return queryset

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "is_clinician": self.actor.is_clinician, "role": self.actor.role}

    def _answer(self, appointment: Appointment, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=appointment.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    def _course_answer(self, outcome: services.CancelOutcome) -> Response:
        """A lost session (cancelled, no-show) with what it did to the course (to a patient, only that
        the clinic will contact them); the ETag is the session's own (its representation without the
        course's outcome)."""
        fresh = self.get_queryset().get(pk=outcome.appointment.pk)
        tag = representation_etag(self.representation(fresh))
        # A patient is told what the portal tells them (PATIENT_COURSE_OUTCOME), never the flag.
        fresh.course_outcome = dict(PATIENT_COURSE_OUTCOME) if self.actor.is_patient else outcome.as_dict()
        return Response(
            CancelResultSerializer(fresh, context=self.get_serializer_context()).data, headers={"ETag": tag}
        )

    def _check_patient_notice(self, appointment: Appointment, now: dt.datetime) -> None:
        """Patients change sessions online only before the notice period; from its first instant
        they call (the deadline the portal, the reminder links and the service use)."""
        if self.actor.is_patient:
            require_online_cancel_open(appointment, now=now)

    @extend_schema(
        summary="Book one session",
        request=BookSerializer,
        responses={201: AppointmentSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request):
        def perform() -> Response:
            data = self._valid(BookSerializer)
            duration = data.get("duration_minutes")
            appointment = services.appointment_book(
                patient=data["patient"],
                site=data["site"],
                starts_at=data["starts_at"],
                actor=request.user,
                now=timezone.now(),
                plan=data.get("plan"),
                phase=data.get("phase"),
                chair=data.get("chair"),
                nurse=data.get("nurse"),
                duration=dt.timedelta(minutes=duration) if duration else None,
                override_reason=data.get("override_reason", ""),
            )
            chair, nurse = data.get("chair"), data.get("nurse")
            if appointment.plan_id is None and chair is not None and nurse is not None:
                # Everything the answer shows is in hand: no need to read the row back.
                appointment.chair, appointment.nurse = chair, nurse
                return Response(self.get_serializer(appointment).data, status=status.HTTP_201_CREATED)
            return self._answer(appointment, status.HTTP_201_CREATED)

        return idempotent(request, perform)

    def _valid(self, serializer_class) -> dict:
        return self.scoped_input(serializer_class, context=self.get_serializer_context())

    @extend_schema(
        summary="Move a session",
        request=MoveSerializer,
        responses=AppointmentSerializer,
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        # Read (scoped, named in the access log) before a retry is answered from what was kept; its
        # If-Match is compared in the first run only, so a retry of a move already made is not
        # refused as changed by the move itself.
        read = self.read_object()

        def perform() -> Response:
            appointment = self.held_to_if_match(read)
            data = self._valid(MoveSerializer)
            moved = services.appointment_move(
                appointment=appointment,
                starts_at=data["starts_at"],
                actor=request.user,
                now=timezone.now(),
                chair=data.get("chair"),
                nurse=data.get("nurse"),
                override_reason=data.get("override_reason", ""),
            )
            return self._answer(moved)

        return idempotent(request, perform)

    @extend_schema(
        summary="Cancel a session (patients: their own, before the notice period); never rebooks unless "
        "`rebook` is true",
        request=CancelSerializer,
        responses=CancelResultSerializer,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        appointment = self.get_object()
        data = self._valid(CancelSerializer)
        now = timezone.now()
        reason = (data.get("reason") or "").strip()
        if self.actor.is_patient:
            if appointment.status in UPCOMING_STATUSES:
                self._check_patient_notice(appointment, now)
            elif appointment.status != AppointmentStatus.CANCELLED:  # a retry of a cancel stays harmless
                # Checked in (or held): the patient is at the clinic, or it is not theirs to book; the
                # portal and the reminder links refuse the same.
                raise InvalidState(
                    f"A session that is {appointment.get_status_display().lower()} cannot be cancelled online; "
                    "please call the clinic.",
                    details={"status": appointment.status},
                )
            reason = reason or PATIENT_CANCEL_REASON
            if data["rebook"]:
                raise serializers.ValidationError({"rebook": ["The clinic rebooks sessions; please call them."]})
        elif not reason:
            raise serializers.ValidationError({"reason": ["Give a reason for the cancellation."]})
        return self._course_answer(
            services.appointment_cancel(
                appointment=appointment,
                actor=request.user,
                reason=reason,
                now=now,
                rebook=data["rebook"],
                # The checks above read the row unlocked: the service checks them again under its lock.
                by_patient=self.actor.is_patient,
            )
        )

    @extend_schema(
        summary="Confirm a session (patients: their own, until it starts)",
        request=None,
        responses=AppointmentSerializer,
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        appointment = self.get_object()
        now = timezone.now()
        if self.actor.is_patient and appointment.status == AppointmentStatus.BOOKED and now >= appointment.starts_at:
            # Confirming frees nothing, so it is open until the session (cancelling closes at the notice period).
            raise InvalidState("The session has started; there is nothing to confirm online.")
        via = "patient portal" if self.actor.is_patient else "front desk"
        return self._answer(services.appointment_confirm(appointment=appointment, actor=request.user, now=now, via=via))

    @extend_schema(summary="Mark the patient arrived", request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        appointment = self.get_object()
        return self._answer(
            services.appointment_check_in(appointment=appointment, actor=request.user, now=timezone.now())
        )

    @extend_schema(
        summary="Undo a mistaken check-in (back to confirmed or booked; the reason is kept in history)",
        request=UndoCheckInSerializer,
        responses=AppointmentSerializer,
    )
    @action(detail=True, methods=["post"], url_path="undo-check-in")
    def undo_check_in(self, request, pk=None):
        appointment = self.get_object()
        data = self._valid(UndoCheckInSerializer)
        return self._answer(
            services.appointment_undo_check_in(
                appointment=appointment,
                actor=request.user,
                reason=data["reason"],
                now=timezone.now(),
            )
        )

    @extend_schema(
        summary="Record who drives the patient home (a session booked, confirmed, checked in or in the chair); "
        "the driver already on record changes nothing",
        request=RideSerializer,
        responses=AppointmentSerializer,
    )
    @action(detail=True, methods=["post"])
    def ride(self, request, pk=None):
        appointment = self.get_object()
        data = self._valid(RideSerializer)
        return self._answer(
            services.appointment_set_ride(
                appointment=appointment, ride_home=data["ride_home"], actor=request.user, now=timezone.now()
            )
        )

    @extend_schema(summary="The patient is in the chair (clinicians)", request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        appointment = self.get_object()
        return self._answer(services.appointment_start(appointment=appointment, actor=request.user, now=timezone.now()))

    @extend_schema(summary="Complete a session (clinicians)", request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        appointment = self.get_object()
        return self._answer(
            services.appointment_complete(appointment=appointment, actor=request.user, now=timezone.now())
        )

    @extend_schema(
        summary="Mark a no-show (after the start time); a missing induction session is offered, not booked, "
        "unless `rebook` is true",
        request=NoShowSerializer,
        responses=CancelResultSerializer,
    )
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        appointment = self.get_object()
        data = self._valid(NoShowSerializer)
        return self._course_answer(
            services.appointment_mark_no_show(
                appointment=appointment, actor=request.user, now=timezone.now(), rebook=data["rebook"]
            )
        )


# --- Reminders ----------------------------------------------------------------


class ReminderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reminder
        fields = [
            "id",
            "appointment",
            "kind",
            "channel",
            "offset_minutes",
            "session_starts_at",
            "due_at",
            "status",
            "attempts",
            "sent_at",
            "fallback_reason",
        ]
        read_only_fields = fields


class ReminderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ReminderStatus.choices)
    kind = django_filters.ChoiceFilter(choices=ReminderKind.choices)
    due_after = api_fields.IsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = api_fields.IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")

    class Meta:
        model = Reminder
        fields = ["appointment", "kind", "channel", "status", "due_after", "due_before"]


@extend_schema_view(
    list=extend_schema(summary="Reminders (a patient sees only those about their own sessions)"),
    retrieve=extend_schema(summary="One reminder"),
)
class ReminderViewSet(ClinicAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ReminderSerializer
    filterset_class = ReminderFilter
    ordering_fields = ["due_at", "id"]
    ordering = ["due_at", "id"]
    access = {"list": DESK | PATIENTS, "retrieve": DESK | PATIENTS}

    def get_queryset(self):
        queryset = Reminder.objects.all()
        if self.actor.is_patient:
            return queryset.filter(appointment__patient=self.actor.patient)
        return queryset
