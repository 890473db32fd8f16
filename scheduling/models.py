"""Protocols, treatment plans, appointments and reminders.

The rules the database can hold live here as constraints: a chair and a
patient are never in two active appointments at once (PostgreSQL exclusion
constraints over tstzrange), one sequence number per plan, start before end.
Writes go through scheduling.services; these classes hold single-row logic only.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.contrib.postgres.fields import RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from clinic.db import PostgresExclusionConstraint, TsTzRange
from clinic.models import Chair, Channel, Route, Site, StaffMember
from patients.models import Patient


def default_check_offsets() -> list[int]:
    return [40]


# The longest a session may last, in minutes (MAX_SESSION_LENGTH below).
MAX_SESSION_MINUTES = 12 * 60
# A protocol's bounds (domain.md: an induction of a few weeks, maintenance every 2 to 6 weeks, a course
# reviewed because prolonged use carries a risk of dependence), wide enough for any clinic's own.
MAX_INDUCTION_WINDOW_DAYS = 60
MAX_GAP_HOURS = 14 * 24
MAX_MAINTENANCE_DAYS = 365
MAX_REVIEW_AFTER_MONTHS = 24
MAINTENANCE_DAYS = [
    MinValueValidator(1, "Give at least %(limit_value)s day."),
    MaxValueValidator(MAX_MAINTENANCE_DAYS, "Give at most %(limit_value)s days (a year) between maintenance sessions."),
]


def _sessions_within(span: dt.timedelta, gap_hours: int) -> int:
    """How many sessions at one time of day fit in `span` (first to last start) with at least
    `gap_hours` between two, and never two on one day."""
    days = span.days + 1
    if gap_hours <= 24:
        return days
    return 1 + int(span.total_seconds() // 3600) // gap_hours


class Protocol(models.Model):
    class InductionPattern(models.TextChoices):
        WINDOW = "window", "N sessions within D days"
        WEEKLY = "weekly", "Sessions per week (e.g. 3-2-1-1-1)"

    name = models.CharField(max_length=120, unique=True)
    route = models.CharField(max_length=20, choices=Route.choices, default=Route.IV)
    # Chair time: the infusion plus monitoring and recovery; a session lasts at most 12 hours.
    session_minutes = models.PositiveSmallIntegerField(
        default=120,
        validators=[
            MaxValueValidator(MAX_SESSION_MINUTES, "A session lasts at most %(limit_value)s minutes (12 hours).")
        ],
    )
    infusion_minutes = models.PositiveSmallIntegerField(default=40)
    induction_pattern = models.CharField(max_length=10, choices=InductionPattern.choices)
    induction_sessions = models.PositiveSmallIntegerField(null=True, blank=True)
    # An induction is a series of sessions close together (6 in 14–21 days, 3-2-1-1-1 over five
    # weeks); the course planner searches the whole window, so it is bounded.
    induction_window_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[
            MinValueValidator(1, "The sessions fit in at least one day."),
            MaxValueValidator(MAX_INDUCTION_WINDOW_DAYS, "An induction lasts at most %(limit_value)s days."),
        ],
    )
    weekly_counts = models.JSONField(
        default=list,
        blank=True,
        help_text="Sessions per week, e.g. [3, 2, 1, 1, 1]",
        validators=[
            MaxLengthValidator(MAX_INDUCTION_WINDOW_DAYS // 7, "An induction lasts at most %(limit_value)s weeks.")
        ],
    )
    min_gap_hours = models.PositiveSmallIntegerField(
        default=48,
        help_text="Least time between two induction sessions.",
        validators=[
            MinValueValidator(1, "Give at least %(limit_value)s hour between two sessions."),
            MaxValueValidator(MAX_GAP_HOURS, "Give at most %(limit_value)s hours (two weeks) between two sessions."),
        ],
    )
    # Maintenance: one session every 2 to 6 weeks, tuned per patient; a year between two is the most.
    maintenance_min_days = models.PositiveSmallIntegerField(default=14, validators=MAINTENANCE_DAYS)
    maintenance_default_days = models.PositiveSmallIntegerField(default=28, validators=MAINTENANCE_DAYS)
    maintenance_max_days = models.PositiveSmallIntegerField(default=42, validators=MAINTENANCE_DAYS)
    # Prolonged use carries a risk of dependence: a course is reviewed at least every two years.
    review_after_months = models.PositiveSmallIntegerField(
        default=6,
        validators=[
            MinValueValidator(1, "Review a course after at least %(limit_value)s month."),
            MaxValueValidator(MAX_REVIEW_AFTER_MONTHS, "Review a course after at most %(limit_value)s months."),
        ],
    )
    # The nurse's hands-on minutes in a session (setup at the start, checks, discharge at the end);
    # between them the nurse only monitors. A nurse does at most Site.setups_per_nurse at once.
    nurse_setup_minutes = models.PositiveSmallIntegerField(default=20)
    nurse_check_offsets_minutes = models.JSONField(
        default=default_check_offsets,
        blank=True,
        help_text="Minutes after the start of each hands-on check, e.g. [40]",
    )
    nurse_check_minutes = models.PositiveSmallIntegerField(default=5)
    nurse_discharge_minutes = models.PositiveSmallIntegerField(default=10)
    preparation_notes = models.TextField(
        blank=True,
        default=(
            "Arrange for someone to drive you home; you must not drive after the session.\n"
            "Do not eat for 4 hours before; clear fluids are fine up to 2 hours before.\n"
            "Bring a list of your current medications and wear comfortable clothes."
        ),
    )
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(infusion_minutes__gte=1, session_minutes__gte=F("infusion_minutes")),
                name="protocol_session_covers_infusion",
            ),
            models.CheckConstraint(
                condition=Q(
                    maintenance_min_days__gte=1,
                    maintenance_min_days__lte=F("maintenance_default_days"),
                    maintenance_default_days__lte=F("maintenance_max_days"),
                ),
                name="protocol_maintenance_interval_ordered",
            ),
            models.CheckConstraint(
                condition=Q(induction_pattern="weekly")
                | Q(induction_pattern="window", induction_sessions__gte=1, induction_window_days__gte=1),
                name="protocol_window_pattern_complete",
            ),
            models.CheckConstraint(
                condition=Q(session_minutes__gte=F("nurse_setup_minutes") + F("nurse_discharge_minutes")),
                name="protocol_nurse_work_within_session",
            ),
            # What an appointment may last (appointment_at_most_max_length): a longer protocol
            # could never be booked.
            models.CheckConstraint(
                condition=Q(session_minutes__lte=MAX_SESSION_MINUTES), name="protocol_session_at_most_max_length"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.pk is not None and self.route:
            # Its plans' sessions are given by its route (the chairs they were booked in are equipped
            # for it, and the administration is recorded by it): a plan's route never changes under it.
            was = type(self).objects.filter(pk=self.pk).values_list("route", flat=True).first()
            if was not in (None, self.route) and self.plans.exists():  # type: ignore[attr-defined]
                raise ValidationError(
                    {
                        "route": "Plans use this protocol, so its route stays as it is: add a protocol for the "
                        "other route (and retire this one when no plan needs it)."
                    }
                )
        # The check constraints' rules, said of the field (a constraint's refusal names only itself).
        if self.infusion_minutes is not None and self.session_minutes is not None:
            if self.infusion_minutes < 1:
                raise ValidationError({"infusion_minutes": "The infusion lasts at least a minute."})
            if self.infusion_minutes > self.session_minutes:
                raise ValidationError(
                    {
                        "infusion_minutes": f"The infusion cannot last longer than the session ({self.session_minutes} min)."
                    }
                )
        low, default, high = self.maintenance_min_days, self.maintenance_default_days, self.maintenance_max_days
        if None not in (low, default, high) and not 1 <= low <= default <= high:
            raise ValidationError(
                {"maintenance_default_days": "Give the maintenance interval as 1 ≤ shortest ≤ default ≤ longest days."}
            )
        gap = self.min_gap_hours or 0
        if self.induction_pattern == self.InductionPattern.WEEKLY:
            counts = self.weekly_counts
            if (
                not isinstance(counts, list)
                or not counts
                or not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 7 for c in counts)
            ):
                raise ValidationError(
                    {"weekly_counts": "Give sessions per week as whole numbers 1–7, e.g. [3, 2, 1, 1, 1]."}
                )
            # A week's sessions at one time of day lie within six days: with the minimum gap between
            # them, no more fit (48 hours: four, on days 1, 3, 5 and 7).
            most = _sessions_within(dt.timedelta(days=6), gap)
            if max(counts) > most:
                raise ValidationError(
                    {"weekly_counts": f"With {gap} hours between sessions, at most {most} fit in a week."}
                )
        window = self.induction_pattern == self.InductionPattern.WINDOW
        if window and (not self.induction_sessions or not self.induction_window_days):
            raise ValidationError({"induction_sessions": "Give the number of sessions and the days they fit in."})
        if (
            window
            and self.induction_sessions
            and self.induction_window_days
            and self.induction_sessions > self.induction_window_days
        ):
            raise ValidationError({"induction_sessions": "Never two sessions on one day: more sessions than days."})
        if window and self.induction_sessions and self.induction_window_days:
            most = _sessions_within(dt.timedelta(days=self.induction_window_days - 1), gap)
            if self.induction_sessions > most:
                raise ValidationError(
                    {
                        "induction_sessions": (
                            f"With {gap} hours between sessions, at most {most} fit in "
                            f"{self.induction_window_days} days."
                        )
                    }
                )
        offsets = self.nurse_check_offsets_minutes
        if not isinstance(offsets, list) or not all(
            isinstance(o, int)
            and not isinstance(o, bool)
            and o >= 0
            and o + self.nurse_check_minutes <= (self.session_minutes or 0)
            for o in offsets
        ):
            raise ValidationError(
                {
                    "nurse_check_offsets_minutes": (
                        "Give the checks as whole minutes after the start, each ending within the session, e.g. [40]."
                    )
                }
            )
        if (self.nurse_setup_minutes or 0) + (self.nurse_discharge_minutes or 0) > (self.session_minutes or 0):
            raise ValidationError(
                {"nurse_setup_minutes": "Setup and discharge together cannot be longer than the session."}
            )

    @property
    def induction_session_count(self) -> int:
        if self.induction_pattern == self.InductionPattern.WEEKLY:
            return sum(self.weekly_counts)
        return self.induction_sessions or 0


class Phase(models.TextChoices):
    INDUCTION = "induction", "Induction"
    MAINTENANCE = "maintenance", "Maintenance"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    ENDED = "ended", "Ended early"


OPEN_PLAN_STATUSES = (PlanStatus.DRAFT, PlanStatus.ACTIVE, PlanStatus.PAUSED)
# A plan sessions can be booked on (a paused or ended one takes none).
BOOKABLE_PLAN_STATUSES = (PlanStatus.DRAFT, PlanStatus.ACTIVE)


def default_weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class TreatmentPlan(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="plans")
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="plans")
    prescriber = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="prescribed_plans")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="plans")
    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.INDUCTION)
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    start_date = models.DateField()
    # Induction rounds: 1 for the first course, +1 for each new induction after a relapse.
    induction_round = models.PositiveSmallIntegerField(default=1)
    maintenance_interval_days = models.PositiveSmallIntegerField()
    review_date = models.DateField()
    # Booking preferences, in the site's wall-clock time.
    preferred_weekdays = models.JSONField(default=default_weekdays, blank=True)
    earliest_start = models.TimeField(null=True, blank=True)
    latest_start = models.TimeField(null=True, blank=True)
    # Raised when the engine could not keep the plan's rules (e.g. a missed
    # induction session could not be re-flowed); a clinician clears it.
    needs_attention = models.BooleanField(default=False)
    attention_reason = models.TextField(blank=True)
    eligibility_override_by = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    eligibility_override_reason = models.TextField(blank=True)
    eligibility_override_at = models.DateTimeField(null=True, blank=True)
    # What the override was given for: the screening's reason keys at that moment (see
    # scheduling.services.eligibility). A reason found later needs a new override. Null on
    # overrides recorded before overrides named what they covered: those cover every reason.
    eligibility_override_covers = models.JSONField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(blank=True)
    # Bumped on every change; edits carry the version they read (If-Match).
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=["draft", "active", "paused"]),
                name="plan_one_open_per_patient",
            ),
            models.CheckConstraint(condition=Q(maintenance_interval_days__gte=1), name="plan_interval_positive"),
            models.CheckConstraint(condition=Q(review_date__gt=F("start_date")), name="plan_review_after_start"),
            models.CheckConstraint(
                condition=~Q(status="ended") | Q(ended_at__isnull=False), name="plan_ended_has_timestamp"
            ),
            models.CheckConstraint(
                condition=Q(eligibility_override_by__isnull=True) | ~Q(eligibility_override_reason=""),
                name="plan_override_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} · {self.protocol} ({self.get_status_display()})"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CONFIRMED = "confirmed", "Confirmed"
    CHECKED_IN = "checked_in", "Checked in"
    IN_CHAIR = "in_chair", "In chair"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"
    # Reserved for a few minutes by an outside system (FHIR $hold) before it books; it
    # occupies chair, nurse and patient like a booking, and lapses at `hold_expires_at`.
    HELD = "held", "Held"


# Appointments in these states occupy their chair, nurse and patient.
BLOCKING_STATUSES = (
    AppointmentStatus.HELD,
    AppointmentStatus.BOOKED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.IN_CHAIR,
    AppointmentStatus.COMPLETED,
)
UPCOMING_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)


class ReleasedWithPlan(models.TextChoices):
    """Why a cancelled session went with its plan (Appointment.released_with_plan)."""

    PAUSED = "paused", "The plan was paused"
    ENDED = "ended", "The plan ended"
    REPLACED = "replaced", "A new induction course replaced it"
    RESCHEDULED = "rescheduled", "The plan's schedule changed and no longer needs it"


# The cancellation reasons of the sessions a plan change releases all at once (scheduling.services.plans).
RELEASED_PLAN_PAUSED = "Plan paused"
RELEASED_PLAN_ENDED = "Plan ended"
RELEASED_NEW_INDUCTION = "A new induction course replaces these sessions"
# The cancellation reason of a FHIR hold that lapsed unbooked (scheduling.services.holds).
HOLD_EXPIRED = "Hold expired"


def lapsed_holds(now: dt.datetime) -> Q:
    """The holds lapsed by `now`: free time, though the sweep may not have cancelled them yet."""
    return Q(status=AppointmentStatus.HELD, hold_expires_at__lte=now)


# A session begun: the patient is checked in, in the chair, or done.
BEGUN_STATUSES = (AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_CHAIR, AppointmentStatus.COMPLETED)
# An infusion the patient had or is booked for (a hold is none): the next one keeps the
# protocol's gap from it, and a course's round counts it.
INFUSION_STATUSES = (*UPCOMING_STATUSES, *BEGUN_STATUSES)
_BLOCKING = Q(status__in=[s.value for s in BLOCKING_STATUSES])
# The longest a session may last. A constraint holds it, so a read for the sessions
# overlapping [start, end) may also bound `starts_at > start - MAX_SESSION_LENGTH` and
# walk the (…, starts_at) indexes over a few days instead of the whole history.
MAX_SESSION_LENGTH = dt.timedelta(minutes=MAX_SESSION_MINUTES)


class Appointment(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    plan = models.ForeignKey(
        TreatmentPlan, on_delete=models.PROTECT, related_name="appointments", null=True, blank=True
    )
    sequence = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Session number within the plan.")
    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.INDUCTION)
    # Which induction course of the plan this session belongs to (or follows, in maintenance).
    induction_round = models.PositiveSmallIntegerField(default=1)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="appointments")
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="appointments")
    nurse = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="appointments", null=True, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED)
    ride_home = models.CharField("driver home", max_length=120, blank=True)
    notes = models.TextField(blank=True)
    # Set when a clinician accepted a move that breaks a plan rule.
    rule_override_reason = models.TextField(blank=True)
    cancellation_reason = models.TextField(blank=True)
    # Set when the session went with a change of its whole plan rather than on its own: the patient's
    # cancellation notice then says what happened to the plan instead of asking them to rebook.
    released_with_plan = models.CharField(
        max_length=12, choices=ReleasedWithPlan.choices, blank=True, default="", db_default=""
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    in_chair_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Only while held: when the hold lapses (the sweep then cancels it).
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    # The .ics SEQUENCE (RFC 5545 §3.8.7.4): raised on every move and cancel, so a
    # calendar program takes each newer copy, whichever channel or download it came by.
    # How a session booked without a plan is given (nasal spray needs a chair equipped for it); a
    # plan's sessions follow its protocol and leave this empty. See `session_route`.
    route = models.CharField(max_length=20, choices=Route.choices, blank=True, default="")
    calendar_sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["site", "starts_at"]),
            models.Index(fields=["chair", "starts_at"]),
            models.Index(fields=["nurse", "starts_at"]),
            models.Index(fields=["patient", "starts_at"]),
            # The snapshot asks for (site OR nurse OR patient) in a window; with an OR the
            # composite indexes above are scanned whole, this one reads the window only.
            models.Index(fields=["starts_at"], name="appointment_starts_idx"),
            # The hold sweep reads only the few held rows.
            models.Index(fields=["hold_expires_at"], name="appointment_hold_expiry_idx", condition=Q(status="held")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="appointment_starts_before_end"),
            models.CheckConstraint(
                condition=Q(ends_at__lte=F("starts_at") + MAX_SESSION_LENGTH), name="appointment_at_most_max_length"
            ),
            models.CheckConstraint(
                condition=Q(plan__isnull=True, sequence__isnull=True) | Q(plan__isnull=False, sequence__gte=1),
                name="appointment_sequence_with_plan",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="appointment_cancel_has_timestamp",
            ),
            models.CheckConstraint(
                condition=~Q(status="held") | Q(hold_expires_at__isnull=False),
                name="appointment_hold_has_expiry",
            ),
            # A cancelled or missed session's number is taken over by its replacement.
            models.UniqueConstraint(
                fields=["plan", "sequence"], condition=_BLOCKING, name="appointment_one_sequence_per_plan"
            ),
            PostgresExclusionConstraint(
                name="appointment_no_chair_overlap",
                expressions=[
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                    ("chair", RangeOperators.EQUAL),
                ],
                condition=_BLOCKING,
            ),
            PostgresExclusionConstraint(
                name="appointment_no_patient_overlap",
                expressions=[
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                    ("patient", RangeOperators.EQUAL),
                ],
                condition=_BLOCKING,
            ),
        ]

    def __str__(self) -> str:
        number = f" #{self.sequence}" if self.sequence else ""
        return f"{self.patient}{number} {self.starts_at:%Y-%m-%d %H:%M} UTC ({self.get_status_display()})"

    @property
    def is_blocking(self) -> bool:
        return self.status in BLOCKING_STATUSES

    @property
    def session_route(self) -> str:
        """The route the session is given by: its plan's protocol's, or the one it was booked for.
        A single session booked before sessions kept their route: its chair's, if it has one only."""
        if self.plan_id:
            return self.plan.protocol.route
        if self.route:
            return self.route
        equipment = self.chair.equipment if self.chair_id else []
        return equipment[0] if len(equipment) == 1 else Route.IV

    @property
    def preparation_notes(self) -> str:
        """What the patient must do before the session (fasting, no driving home): the plan's
        protocol's notes, or the default notes for a session booked without a plan. The email, the
        portal and the calendar file all say the same."""
        if self.plan_id:
            return self.plan.protocol.preparation_notes
        return Protocol._meta.get_field("preparation_notes").get_default()


class ReminderKind(models.TextChoices):
    REMINDER = "reminder", "Reminder before the session"
    CONFIRMATION = "confirmation", "Booking confirmation"
    CHANGE = "change", "Change notice"
    CANCELLATION = "cancellation", "Cancellation notice"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Reminder(models.Model):
    """One message to send about one appointment. The row is written in the
    transaction that books, moves or cancels the appointment; the dispatcher
    claims due rows and sends them."""

    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="reminders")
    kind = models.CharField(max_length=14, choices=ReminderKind.choices, default=ReminderKind.REMINDER)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # For reminders: how long before the session; null for notices.
    offset_minutes = models.PositiveIntegerField(null=True, blank=True)
    # The session start this row was planned for; a moved session's old rows are cancelled.
    session_starts_at = models.DateTimeField()
    due_at = models.DateTimeField(help_text="When it should go out (after quiet hours).")
    next_attempt_at = models.DateTimeField(help_text="When the dispatcher may next pick it up.")
    status = models.CharField(max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    # Why a different channel than the patient's preference was used.
    fallback_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="reminder_due_idx"),
            models.Index(fields=["status", "lease_expires_at"], name="reminder_lease_idx"),
        ]
        constraints = [
            # Never twice for the same moment of the same session.
            models.UniqueConstraint(
                fields=["appointment", "kind", "offset_minutes", "session_starts_at"],
                condition=Q(kind="reminder") & ~Q(status="cancelled"),
                name="reminder_once_per_offset",
            ),
            models.CheckConstraint(
                condition=~Q(kind="reminder") | Q(offset_minutes__isnull=False), name="reminder_has_offset"
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(lease_expires_at__isnull=False), name="reminder_sending_has_lease"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.channel} for appointment {self.appointment_id} due {self.due_at:%Y-%m-%d %H:%M}"


class FrontDeskListDelivery(models.Model):
    """One site's daily list for one day, claimed before it is emailed. The unique
    row is the guard: a second beat, a retried task or an overlapping run finds it
    taken and sends nothing."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="front_desk_list_deliveries")
    day = models.DateField(help_text="The site-local day the list is about.")
    claimed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "day"], name="front_desk_list_once_per_site_and_day")]

    def __str__(self) -> str:
        return f"Front-desk list for {self.site} on {self.day}"


class ReminderAttempt(models.Model):
    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    succeeded = models.BooleanField()
    provider_message_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["attempted_at"]

    def __str__(self) -> str:
        outcome = "sent" if self.succeeded else "failed"
        return f"Reminder {self.reminder_id} {outcome} at {self.attempted_at:%Y-%m-%d %H:%M}"


class IdempotencyRecord(models.Model):
    """The first response to a booking POST with an Idempotency-Key header."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    # The headers a replay repeats (a created resource's Location, an ETag), by name.
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


# --- Waitlist: patients who want an earlier slot, offered chairs freed by cancellations ---


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    BOOKED = "booked", "Booked from the waitlist"
    REMOVED = "removed", "Removed"


class WaitlistEntry(models.Model):
    """A patient who would take an earlier session at `site` between the wanted dates."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="waitlist_entries")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="waitlist_entries")
    # The plan the freed session is booked under (its protocol sets route and chair time).
    plan = models.ForeignKey(
        TreatmentPlan, on_delete=models.PROTECT, null=True, blank=True, related_name="waitlist_entries"
    )
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # The booked session the patient wants earlier: accepting an offer moves it instead of adding one.
    replaces = models.ForeignKey(Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    earliest_date = models.DateField(help_text="First day the patient can come, in the site's calendar.")
    latest_date = models.DateField(null=True, blank=True, help_text="Last day that is still worth it; empty for any.")
    notify_patient = models.BooleanField(
        default=True, help_text="Message the patient an accept link when a chair frees up."
    )
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "waitlist entries"
        indexes = [models.Index(fields=["site", "status", "earliest_date"], name="waitlist_match_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "site"], condition=Q(status="waiting"), name="waitlist_one_waiting_per_patient_site"
            ),
            models.CheckConstraint(
                condition=Q(latest_date__isnull=True) | Q(latest_date__gte=F("earliest_date")),
                name="waitlist_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} waiting at {self.site} from {self.earliest_date} ({self.get_status_display()})"


class WaitlistOfferStatus(models.TextChoices):
    OPEN = "open", "Offered"
    ACCEPTED = "accepted", "Accepted"
    TAKEN = "taken", "Taken by another patient"
    CLOSED = "closed", "No longer needed"


class WaitlistOffer(models.Model):
    """One freed chair offered to one waiting patient; the first to accept gets it."""

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.PROTECT, related_name="offers")
    freed = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="waitlist_offers")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=WaitlistOfferStatus.choices, default=WaitlistOfferStatus.OPEN)
    booked = models.ForeignKey(Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    messaged_at = models.DateTimeField(null=True, blank=True)
    # Set while the accept link waits for the end of the patient's quiet hours, or for another try
    # after the provider refused it (the sweep sends it then).
    message_due_at = models.DateTimeField(null=True, blank=True)
    message_error = models.TextField(blank=True)
    # Tries at sending the accept link; one the provider refused is tried again (message_due_at)
    # up to the site's reminder policy's max_attempts, while the session is ahead.
    message_attempts = models.PositiveSmallIntegerField(default=0)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "freed"], name="waitlist_offer_once_per_entry"),
            # First to accept gets it: a freed chair is accepted at most once.
            models.UniqueConstraint(
                fields=["freed"], condition=Q(status="accepted"), name="waitlist_offer_accepted_once"
            ),
            models.CheckConstraint(
                condition=~Q(status="accepted") | Q(booked__isnull=False, accepted_at__isnull=False),
                name="waitlist_offer_accepted_has_booking",
            ),
        ]

    def __str__(self) -> str:
        return f"Offer of {self.starts_at:%Y-%m-%d %H:%M} UTC to {self.entry.patient} ({self.get_status_display()})"


# --- Day templates: the site's staggered start times per chair (scheduling/engine/day_template.py) ---


class DayTemplateState(models.TextChoices):
    PENDING = "pending", "Queued"
    DONE = "done", "Computed"
    FAILED = "failed", "Failed"


class DayTemplate(models.Model):
    """One computation of a site's day template. Every attempt keeps its row (the history);
    the latest DONE row is the template in use, so a failed or timed-out run changes nothing."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="day_templates")
    state = models.CharField(max_length=10, choices=DayTemplateState.choices, default=DayTemplateState.PENDING)
    # [{"chair_id": 3, "start": "08:20", "protocol_id": 1}, ...] in chair, then time order.
    starts = models.JSONField(default=list, blank=True)
    sessions_per_day = models.PositiveSmallIntegerField(null=True, blank=True)
    solver_status = models.CharField(max_length=20, blank=True, help_text="CP-SAT's answer: OPTIMAL, FEASIBLE, ...")
    solve_seconds = models.FloatField(null=True, blank=True)
    # What the solver was given (opening, nurses over the day, protocol mix), shown on the page.
    inputs = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField()
    computed_at = models.DateTimeField(null=True, blank=True)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["site", "state", "-computed_at"], name="day_template_latest_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="pending") | Q(computed_at__isnull=False), name="day_template_finished_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(state="done") | Q(sessions_per_day__isnull=False), name="day_template_done_has_count"
            ),
        ]

    def __str__(self) -> str:
        return f"Day template of {self.site} ({self.get_state_display()}, requested {self.requested_at:%Y-%m-%d %H:%M})"


class DayPlan(models.Model):
    """The site's day template solved again for one day, around the sessions already booked on it
    (scheduling.services.day_plans): the starts placement and the board prefer on that day
    instead of the template's. One row per site and day; a day whose bookings all keep the
    template's starts has none."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="day_plans")
    day = models.DateField(help_text="The site's local date.")
    template = models.ForeignKey(DayTemplate, on_delete=models.CASCADE, related_name="day_plans")
    # [{"chair_id": 3, "start": "08:20"}, ...]: the starts still to fill, in chair, then time order.
    starts = models.JSONField(default=list, blank=True)
    # The appointments it was solved around (their ids), and a fingerprint of the day as it was
    # solved (those sessions where they were, the nurse shifts, closures, chairs, hours, ratio and
    # template): a day that changed otherwise than by sessions at the plan's starts is solved again.
    booked = models.JSONField(default=list, blank=True)
    digest = models.CharField(max_length=64, blank=True)
    # New with every solve: readers keep a parsed plan until its revision changes.
    revision = models.UUIDField(default=uuid.uuid4)
    solver_status = models.CharField(max_length=20, blank=True)
    solve_seconds = models.FloatField(default=0.0)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["site", "day"]
        constraints = [models.UniqueConstraint(fields=["site", "day"], name="day_plan_one_per_site_and_day")]

    def __str__(self) -> str:
        return f"Day plan for {self.site} on {self.day:%Y-%m-%d}"
