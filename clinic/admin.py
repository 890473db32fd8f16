"""Admin for the clinic's set-up: sites (with chairs, opening hours and the
reminder policy inline), staff (with shifts inline), closures and the access log. A change to what
booking checks is followed by a count of the booked sessions it leaves not fitting
(clinic.admin_set_up, answered by scheduling.admin)."""

from __future__ import annotations

import datetime as dt
import itertools

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import timezone

from clinic.admin_edits import ConcurrentEditAdminMixin, ConcurrentEditInlineMixin
from clinic.admin_history import HistoryAdmin
from clinic.admin_set_up import EVERY_SITE, SetUpAdminMixin
from clinic.models import AccessLog, Chair, Closure, OpeningHours, ReminderPolicy, Role, Shift, Site, StaffMember

# Logins are changed here too (deactivation, staff flag, permissions): the same check applies.
admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class UserAdmin(ConcurrentEditAdminMixin, DjangoUserAdmin):
    # Written by signing in and joining, not by an administrator: shown, not posted back.
    readonly_fields = ["last_login", "date_joined"]


class ChairInline(ConcurrentEditInlineMixin, admin.TabularInline):
    model = Chair
    extra = 0
    fields = ["name", "active", "equipment"]


class OpeningHoursInline(ConcurrentEditInlineMixin, admin.TabularInline):
    model = OpeningHours
    extra = 0
    max_num = 7


class ReminderPolicyInline(ConcurrentEditInlineMixin, admin.StackedInline):
    model = ReminderPolicy
    extra = 0
    max_num = 1
    can_delete = False
    fields = [
        "offsets_hours",
        ("email_enabled", "sms_enabled"),
        ("quiet_hours_start", "quiet_hours_end"),
        ("patient_notice_hours", "max_attempts"),
    ]


@admin.register(Site)
class SiteAdmin(SetUpAdminMixin, ConcurrentEditAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "time_zone",
        "phone",
        "max_patients_per_nurse",
        "setups_per_nurse",
        "slot_step_minutes",
        "placement_policy",
        "chair_count",
    ]
    search_fields = ["name", "address"]
    inlines = [ChairInline, OpeningHoursInline, ReminderPolicyInline]

    def get_form(self, request: HttpRequest, obj: Site | None = None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        # Left out of a form (an older client, a script), the level-loading settings keep their defaults.
        for name in ("setups_per_nurse", "placement_policy"):
            if name in form.base_fields:
                form.base_fields[name].required = False
        return form

    def save_model(self, request: HttpRequest, obj: Site, form, change: bool) -> None:
        for name in ("setups_per_nurse", "placement_policy"):
            if getattr(obj, name) in (None, ""):
                setattr(obj, name, Site._meta.get_field(name).get_default())
        super().save_model(request, obj, form, change)

    def set_up_sites(self, obj: Site, form=None) -> list[int]:
        return [obj.pk]

    def get_inlines(self, request: HttpRequest, obj: Site | None):
        # A new site gets its default policy when it is saved (clinic.signals); a second
        # policy from the add form would clash with it, so the policy is edited afterwards.
        if obj is None:
            return [ChairInline, OpeningHoursInline]
        return self.inlines

    def get_queryset(self, request: HttpRequest) -> QuerySet[Site]:
        return super().get_queryset(request).annotate(_chair_count=Count("chairs"))

    @admin.display(description="chairs", ordering="_chair_count")
    def chair_count(self, site: Site) -> int:
        return site._chair_count  # type: ignore[attr-defined]


@admin.register(Chair)
class ChairAdmin(SetUpAdminMixin, ConcurrentEditAdminMixin, admin.ModelAdmin):
    list_display = ["name", "site", "active", "equipment"]
    list_filter = ["site", "active"]
    search_fields = ["name", "site__name"]
    list_select_related = ["site"]


class ShiftForm(forms.ModelForm):
    """A shift only where its staff member works, as the API has it: elsewhere it would count for
    nothing (booking counts a nurse's shifts at her own sites only)."""

    def clean(self):
        cleaned = super().clean()
        staff = cleaned.get("staff") or getattr(self.instance, "staff", None)
        site = cleaned.get("site")
        # Asked of a new row or one given another site or person, not of rows shown as stored
        # (a nurse made inactive on her page keeps her shifts until they are deleted).
        moved = self.instance.pk is None or {"site", "staff"} & set(self.changed_data)
        if moved and staff is not None and site is not None and not _works_at(staff, site):
            self.add_error("site", "This staff member does not work at that site (give them the site and save first).")
        return cleaned


def _works_at(staff: StaffMember, site: Site) -> bool:
    return staff.all_sites or staff.sites.filter(pk=site.pk).exists()


class ShiftsFormSet(BaseInlineFormSet):
    """The staff page's shift rows, checked against one another: each row is checked against the
    stored shifts by the overlap constraint, but two new rows are not in the database yet."""

    def clean(self) -> None:
        super().clean()
        rows = sorted(
            (form.cleaned_data["starts_at"], form.cleaned_data["ends_at"])
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("starts_at")
            and form.cleaned_data.get("ends_at")
        )
        for (_, ends_at), (starts_at, _) in itertools.pairwise(rows):
            if starts_at < ends_at:
                raise ValidationError(
                    f"Two of these shifts overlap (one ends {ends_at:%Y-%m-%d %H:%M}, the next starts"
                    f" {starts_at:%Y-%m-%d %H:%M}, {timezone.get_current_timezone_name()}): a person works one shift at a time."
                )


class UpcomingShiftInline(ConcurrentEditInlineMixin, admin.TabularInline):
    """Only the shifts from yesterday to four weeks on: a staff member accumulates hundreds, and
    each row posts nine fields back, so a rota typed in months ahead would pass the 1,000 fields
    a request may carry (DATA_UPLOAD_MAX_NUMBER_FIELDS) and the page could not be saved."""

    model = Shift
    form = ShiftForm
    formset = ShiftsFormSet
    extra = 0
    fields = ["site", "starts_at", "ends_at"]
    verbose_name_plural = "shifts from yesterday to four weeks on (all of them: Shifts)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Shift]:
        now = timezone.now()
        shown = super().get_queryset(request).filter(ends_at__gte=now - dt.timedelta(days=1))
        return shown.filter(starts_at__lt=now + dt.timedelta(weeks=4)).select_related("site")


@admin.register(StaffMember)
class StaffMemberAdmin(SetUpAdminMixin, ConcurrentEditAdminMixin, HistoryAdmin):
    list_display = ["display_name", "username", "role", "site_names", "all_sites", "active"]
    list_filter = ["role", "active", "all_sites", "sites"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    filter_horizontal = ["sites"]
    inlines = [UpcomingShiftInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StaffMember]:
        return super().get_queryset(request).prefetch_related("sites")

    def set_up_sites(self, obj: StaffMember, form=None) -> list | None:
        """A nurse's sites, as saved and as the form showed them (the shifts they work there)."""
        shown = form.initial if form is not None else {}
        if Role.NURSE not in (obj.role, shown.get("role")):
            return []
        if obj.all_sites or shown.get("all_sites"):
            return EVERY_SITE
        sites = [*shown.get("sites", ()), *(form.cleaned_data.get("sites", ()) if form is not None else ())]
        return [*sites, *obj.sites.all()] if obj.pk else sites

    def inline_set_up_sites(self, obj: StaffMember, inline_form) -> list:
        # A shift row: the site it is at, and the one it was at.
        return [inline_form.instance.site_id, inline_form.initial.get("site")]

    @admin.display(description="username", ordering="user__username")
    def username(self, member: StaffMember) -> str:
        return member.user.get_username()

    @admin.display(description="sites")
    def site_names(self, member: StaffMember) -> str:
        return ", ".join(site.name for site in member.sites.all())


@admin.register(Shift)
class ShiftAdmin(SetUpAdminMixin, ConcurrentEditAdminMixin, admin.ModelAdmin):
    form = ShiftForm
    list_display = ["staff", "role", "site", "starts_at", "ends_at"]
    list_filter = ["site", "staff__role"]
    search_fields = ["staff__user__username", "staff__user__first_name", "staff__user__last_name"]
    date_hierarchy = "starts_at"
    list_select_related = ["staff__user", "site"]
    autocomplete_fields = ["staff"]

    @admin.display(description="role", ordering="staff__role")
    def role(self, shift: Shift) -> str:
        return shift.staff.get_role_display()


@admin.register(OpeningHours)
class OpeningHoursAdmin(SetUpAdminMixin, ConcurrentEditAdminMixin, admin.ModelAdmin):
    list_display = ["site", "weekday", "opens_at", "closes_at"]
    list_filter = ["site", "weekday"]
    list_select_related = ["site"]


@admin.register(Closure)
class ClosureAdmin(SetUpAdminMixin, ConcurrentEditAdminMixin, admin.ModelAdmin):
    list_display = ["reason", "site", "starts_at", "ends_at"]
    list_filter = ["site"]
    search_fields = ["reason"]
    date_hierarchy = "starts_at"
    list_select_related = ["site"]


@admin.register(ReminderPolicy)
class ReminderPolicyAdmin(ConcurrentEditAdminMixin, HistoryAdmin):
    list_display = [
        "site",
        "offsets_hours",
        "email_enabled",
        "sms_enabled",
        "quiet_hours_start",
        "quiet_hours_end",
        "patient_notice_hours",
        "max_attempts",
    ]
    list_filter = ["email_enabled", "sms_enabled"]
    search_fields = ["site__name"]
    list_select_related = ["site"]


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    """An audit trail: readable, never added to, changed or deleted by hand."""

    list_display = ["at", "event", "user", "username", "method", "path", "status_code", "ip_address", "patient_ids"]
    list_filter = ["event", "method", "status_code"]
    search_fields = ["path", "user__username", "username", "ip_address"]
    date_hierarchy = "at"
    list_select_related = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AccessLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AccessLog | None = None) -> bool:
        return False
