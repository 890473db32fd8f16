"""Admin for protocols, plans, appointments and reminders.

Plans and appointments change state through scheduling.services (booking,
moving, cancelling, pausing), which keep the plan rules, the reminders and the
version counter in step; here their status, version and timestamps are read-only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.dispatch import receiver
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from clinic.admin_edits import ConcurrentEditAdminMixin
from clinic.admin_history import HistoryAdmin
from clinic.admin_set_up import EVERY_SITE, SetUpAdminMixin, set_up_changed
from clinic.admin_visibility import ClinicalAdminMixin
from clinic.audit import PatientsShownAdminMixin
from clinic.models import Role, Site, StaffMember
from scheduling.models import (
    Appointment,
    IdempotencyRecord,
    Protocol,
    Reminder,
    ReminderAttempt,
    TreatmentPlan,
    WaitlistEntry,
    WaitlistOffer,
)
from scheduling.selectors import TO_MOVE_HORIZON, sessions_to_move


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@receiver(set_up_changed, dispatch_uid="scheduling.admin.count_sessions_to_move")
def count_sessions_to_move(*, request: HttpRequest, site_ids: set[int] | None, **_: Any) -> None:
    """After an administrator changes a site's set-up: how many booked sessions of the coming
    weeks no longer fit it, per site, with a link to the first one's day on the board (which marks
    them; the desk's To move page lists them with the patients, which an administrator does not
    see). Nothing said when every session still fits."""
    now = timezone.now()
    sites = Site.objects.order_by("name", "pk")
    if site_ids is not EVERY_SITE:
        sites = sites.filter(pk__in=site_ids)
    for site in sites:
        found = sessions_to_move(site=site, now=now, until=now + TO_MOVE_HORIZON)
        if found:
            warn_sessions_to_move(
                request,
                site=site,
                starts=[entry.appointment.starts_at for entry in found],
                why=("no longer fits its set-up", "no longer fit its set-up"),
                now=now,
            )


def warn_sessions_to_move(
    request: HttpRequest,
    *,
    site: Site,
    starts: list[dt.datetime],
    why: tuple[str, str],
    now: dt.datetime,
) -> None:
    """Tells the administrator that the booked sessions starting at `starts` (in order, at least
    one) at `site` are to be moved, `why` (said of one, of several), with a link to the first one's
    day on the board. The front desk's To move page lists only the coming weeks: sessions further
    ahead are counted as such."""
    first = starts[0].astimezone(site.zone)
    board = reverse("web:board") + "?" + urlencode({"site": site.pk, "day": first.date().isoformat()})
    count = len(starts)
    later = sum(1 for starts_at in starts if starts_at >= now + TO_MOVE_HORIZON)
    weeks = TO_MOVE_HORIZON.days // 7
    messages.warning(
        request,
        format_html(
            "{} booked session{} at {} {}, the first on {}: see the"
            ' <a href="{}">day board</a>; the front desk moves them from To move.{}',
            count,
            "" if count == 1 else "s",
            site.name,
            why[0] if count == 1 else why[1],
            f"{first:%a %-d %b %Y %H:%M}",
            board,
            f" {later} of them {'is' if later == 1 else 'are'} more than {weeks} weeks ahead: To move lists"
            f" sessions as they come within {weeks} weeks."
            if later
            else "",
        ),
    )


@admin.register(Protocol)
class ProtocolAdmin(SetUpAdminMixin, ConcurrentEditAdminMixin, HistoryAdmin):
    list_display = [
        "name",
        "route",
        "induction_pattern",
        "induction_session_count",
        "session_minutes",
        "min_gap_hours",
        "maintenance_default_days",
        "active",
    ]
    list_filter = ["route", "induction_pattern", "active"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "route", "active"]}),
        ("Chair time", {"fields": [("session_minutes", "infusion_minutes")]}),
        (
            "Nurse hands-on minutes",
            {
                "fields": [
                    ("nurse_setup_minutes", "nurse_discharge_minutes"),
                    ("nurse_check_offsets_minutes", "nurse_check_minutes"),
                ]
            },
        ),
        (
            "Induction",
            {
                "fields": [
                    "induction_pattern",
                    ("induction_sessions", "induction_window_days"),
                    "weekly_counts",
                    "min_gap_hours",
                ]
            },
        ),
        (
            "Maintenance",
            {
                "fields": [
                    ("maintenance_min_days", "maintenance_default_days", "maintenance_max_days"),
                    "review_after_months",
                ]
            },
        ),
        ("For the patient", {"fields": ["preparation_notes"]}),
    ]

    def set_up_sites(self, obj: Protocol, form: ModelForm | None = None) -> None:
        # Its nurse work (hands-on minutes) counts at every site that books it.
        return EVERY_SITE

    @admin.display(description="induction sessions")
    def induction_session_count(self, protocol: Protocol) -> int:
        return protocol.induction_session_count


class PlanAppointmentInline(ReadOnlyInline):
    model = Appointment
    fields = ["sequence", "phase", "starts_at", "chair", "nurse", "status"]
    readonly_fields = fields
    ordering = ["starts_at"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("chair__site", "nurse__user")


@admin.register(TreatmentPlan)
class TreatmentPlanAdmin(ConcurrentEditAdminMixin, ClinicalAdminMixin, HistoryAdmin):
    visibility_kind = "plan"  # attention reason, eligibility override, end reason
    list_display = [
        "patient",
        "protocol",
        "site",
        "phase",
        "status",
        "start_date",
        "maintenance_interval_days",
        "review_date",
        "needs_attention",
        "prescriber",
    ]
    list_filter = ["status", "phase", "needs_attention", "site", "protocol"]
    search_fields = ["patient__first_name", "patient__last_name", "protocol__name"]
    date_hierarchy = "start_date"
    list_select_related = ["patient", "protocol", "site", "prescriber__user"]
    autocomplete_fields = ["patient", "prescriber"]
    # The screening override is a prescriber's decision, recorded by the service (which checks the
    # role and what the override covers), not an admin edit.
    readonly_fields = [
        "eligibility_override_by",
        "eligibility_override_reason",
        "eligibility_override_covers",
        "status",
        "version",
        "created_by",
        "created_at",
        "updated_at",
        "paused_at",
        "ended_at",
        "eligibility_override_at",
    ]
    inlines = [PlanAppointmentInline]

    # What the services decide (a prescriber's interval and review date within the protocol's bounds,
    # the sessions re-planned with them; the plan's patient, site and prescriber, fixed once it exists)
    # is not edited here around them: the chart and the API change those.
    CHANGED_BY_SERVICES = (
        "patient",
        "site",
        "protocol",
        "prescriber",
        "maintenance_interval_days",
        "review_date",
        "phase",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: TreatmentPlan | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return fields + [f for f in self.CHANGED_BY_SERVICES if f not in fields] if obj is not None else fields

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "prescriber":  # a new plan's prescriber, as plan_create takes one
            kwargs["queryset"] = StaffMember.objects.filter(role=Role.PRESCRIBER, active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: TreatmentPlan, form: ModelForm, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        else:
            # An admin edit is a change like any other: clients holding the old version must re-read. The
            # version is the locked row's (clinic/admin_edits.py reads what the page does not edit again).
            obj.version += 1
        super().save_model(request, obj, form, change)


class ReminderInline(ReadOnlyInline):
    model = Reminder
    fields = ["kind", "channel", "offset_minutes", "due_at", "status", "attempts", "sent_at"]
    readonly_fields = fields


@admin.register(Appointment)
class AppointmentAdmin(ConcurrentEditAdminMixin, ClinicalAdminMixin, HistoryAdmin):
    visibility_kind = "appointment"  # clinical notes, accepted rule break
    list_display = ["starts_at", "local_start", "patient", "site", "chair", "nurse", "phase", "sequence", "status"]
    list_filter = ["status", "phase", "site", "chair"]
    search_fields = ["patient__first_name", "patient__last_name", "notes", "ride_home"]
    date_hierarchy = "starts_at"
    list_select_related = ["patient", "site", "chair__site", "nurse__user"]
    # Booking, moving and status changes go through the desk's pages and the services (rules,
    # reminders, the EHR's SIU messages); here a session's notes and ride home are corrected. What
    # the services set besides is shown, not edited: the calendar sequence the patient's calendar
    # reads, why a session was released with its plan, its route (the chair is equipped for it),
    # its induction round, the reason a prescriber gave for a rule break and a FHIR hold's expiry.
    readonly_fields = [
        "calendar_sequence",
        "hold_expires_at",
        "released_with_plan",
        "route",
        "induction_round",
        "rule_override_reason",
        "patient",
        "plan",
        "site",
        "chair",
        "nurse",
        "starts_at",
        "ends_at",
        "phase",
        "sequence",
        "status",
        "booked_by",
        "confirmed_at",
        "checked_in_at",
        "in_chair_at",
        "completed_at",
        "cancelled_at",
        "cancelled_by",
        "cancellation_reason",
        "created_at",
        "updated_at",
    ]
    inlines = [ReminderInline]

    @admin.display(description="local start", ordering="starts_at")
    def local_start(self, appointment: Appointment) -> str:
        return f"{appointment.starts_at.astimezone(appointment.site.zone):%a %Y-%m-%d %H:%M}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a session is booked on the desk's pages, where the booking rules hold


class ReminderAttemptInline(ReadOnlyInline):
    model = ReminderAttempt
    fields = ["attempted_at", "channel", "succeeded", "provider_message_id", "error"]
    readonly_fields = fields
    show_change_link = False


@admin.register(Reminder)
class ReminderAdmin(ConcurrentEditAdminMixin, PatientsShownAdminMixin, admin.ModelAdmin):
    """Written by the booking services and the dispatcher; staff read it to answer 'was I reminded?'."""

    patient_path = "appointment__patient_id"

    list_display = ["id", "appointment", "kind", "channel", "offset_minutes", "due_at", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["appointment__patient__first_name", "appointment__patient__last_name", "provider_message_id"]
    date_hierarchy = "due_at"
    list_select_related = ["appointment__patient"]
    raw_id_fields = ["appointment"]
    readonly_fields = [
        "status",
        "attempts",
        "session_starts_at",
        "lease_expires_at",
        "sent_at",
        "provider_message_id",
        "last_error",
        "fallback_reason",
        "created_at",
        "updated_at",
    ]
    inlines = [ReminderAttemptInline]


@admin.register(ReminderAttempt)
class ReminderAttemptAdmin(PatientsShownAdminMixin, admin.ModelAdmin):
    patient_path = "reminder__appointment__patient_id"
    list_display = ["attempted_at", "reminder", "channel", "succeeded", "provider_message_id"]
    list_filter = ["succeeded", "channel"]
    search_fields = ["provider_message_id", "error"]
    date_hierarchy = "attempted_at"
    list_select_related = ["reminder"]
    raw_id_fields = ["reminder"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "key", "response_status"]
    # The kept answer is the session as its caller saw it (a clinician's: notes and all); the admin
    # shows who replayed what, never the answer itself.
    fields = ["created_at", "user", "key", "response_status"]
    readonly_fields = fields
    search_fields = ["key", "user__username"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Waitlist: read-only here; entries and offers change through scheduling/services/waitlist.py ---


class _ReadOnlyAdmin(PatientsShownAdminMixin, HistoryAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(_ReadOnlyAdmin):
    list_display = ["patient", "site", "earliest_date", "latest_date", "status", "created_at", "created_by"]
    list_filter = ["status", "site"]
    search_fields = ["patient__first_name", "patient__last_name", "notes"]
    list_select_related = ["patient", "site", "created_by"]


@admin.register(WaitlistOffer)
class WaitlistOfferAdmin(_ReadOnlyAdmin):
    patient_path = "entry__patient_id"
    list_display = ["starts_at", "site", "chair", "entry", "status", "messaged_at", "accepted_at"]
    list_filter = ["status", "site"]
    list_select_related = ["site", "chair__site", "entry__patient", "entry__site"]
