"""Admin for the clinic's set-up: sites (with chairs, opening hours and the
reminder policy inline), staff (with shifts inline), closures and the access log. A closure's or a
shift's times are typed and shown on its site's clock (SiteClockForm). A change to what booking
checks is followed by a count of the booked sessions it leaves not fitting (clinic.admin_set_up,
answered by scheduling.admin)."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import escape, format_html, format_html_join
from django.utils.text import capfirst

from clinic.admin_edits import ConcurrentEditAdminMixin, ConcurrentEditInlineMixin
from clinic.admin_history import HistoryAdmin
from clinic.admin_set_up import EVERY_SITE, SetUpAdminMixin
from clinic.audit import access_log_naming_patient, patients_shown
from clinic.form_fields import SiteClockSplitDateTimeField, skipped_time_error, wall_clock_instant
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


def _every_site_zone() -> dt.tzinfo:
    """The clock a closure of every site is typed on: no one site's, so the server's
    (DJANGO_TIME_ZONE), which the form names."""
    return timezone.get_default_timezone()


def _site_clocks(*, every_site: bool) -> str:
    """The form's note of the clocks its times are read on: each site's zone (sites sharing one
    named together), and for a closure of every site the server's. HTML (the admin shows help text
    unescaped), so the names are escaped."""
    by_zone: dict[str, list[str]] = {}
    for name, zone in Site.objects.order_by("time_zone", "name").values_list("name", "time_zone"):
        by_zone.setdefault(zone, []).append(name)
    clocks = "; ".join(f"{zone} at {', '.join(names)}" for zone, names in by_zone.items())
    text = f"On the site's own clock ({clocks})." if clocks else "On the site's own clock."
    if every_site:
        text += f" A closure of every site: on {timezone.get_default_timezone_name()}, the server's clock."
    return escape(text)


class SiteClockForm(forms.ModelForm):
    """A row with a site and a start and end typed in the admin (a closure, a shift), its times read
    on the wall clock of the site chosen, as the day they close or staff is that site's: read on the
    server's clock (UTC), a Los Angeles closure typed 00:00 to 00:00 ran 16:00 to 16:00 and left the
    closed afternoon bookable. The night the clocks change: a time they skip is refused, one they
    repeat is its first occurrence (as the engine reads opening hours); a time shown and posted back
    unchanged keeps the instant stored, even the second occurrence of a repeated one."""

    starts_at = SiteClockSplitDateTimeField(widget=AdminSplitDateTime)
    ends_at = SiteClockSplitDateTimeField(widget=AdminSplitDateTime)
    site_clock_fields = ("starts_at", "ends_at")
    # Whether an empty site means every site (a closure): then the times are on the server's clock.
    closes_every_site = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        note = lazy(functools.cache(functools.partial(_site_clocks, every_site=self.closes_every_site)), str)()
        self._shown_zone = self._zone(self.instance.site if self.instance.site_id else None)
        self._shown: dict[str, dt.datetime] = {}
        for name in self.site_clock_fields:
            self.fields[name].help_text = note
            stored = getattr(self.instance, name)
            if self.instance.pk is not None and stored is not None:
                self._shown[name] = stored
                self.initial[name] = stored.astimezone(self._shown_zone).replace(tzinfo=None)

    @staticmethod
    def _zone(site: Site | None) -> dt.tzinfo:
        # A shift's form without a valid site is refused anyway: its times are read on some clock.
        return site.zone if site is not None else _every_site_zone()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        zone = self._zone(cleaned.get("site"))
        for name in self.site_clock_fields:
            typed = cleaned.get(name)
            if not isinstance(typed, dt.datetime) or timezone.is_aware(typed):
                continue
            if str(zone) == str(self._shown_zone) and name in self._shown and typed == self.initial.get(name):
                cleaned[name] = self._shown[name]
                continue
            instant = wall_clock_instant(typed, zone)
            if instant is None:
                self.add_error(name, skipped_time_error(typed, zone))
            else:
                cleaned[name] = instant
        return cleaned


def on_site_clock(instant: dt.datetime, site: Site | None) -> str:
    """`instant` as the site's clock shows it (the server's for a closure of every site)."""
    zone = site.zone if site is not None else _every_site_zone()
    return f"{instant.astimezone(zone):%a %-d %b %Y %H:%M %Z}"


class ShiftForm(SiteClockForm):
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
            (
                (form.cleaned_data["starts_at"], form.cleaned_data["ends_at"], form.cleaned_data.get("site"))
                for form in self.forms
                if getattr(form, "cleaned_data", None)
                and not form.cleaned_data.get("DELETE")
                and form.cleaned_data.get("starts_at")
                and form.cleaned_data.get("ends_at")
            ),
            key=lambda row: (row[0], row[1]),  # sites do not order: two rows of the same times are compared by time
        )
        for (_, ends_at, site), (starts_at, _, next_site) in itertools.pairwise(rows):
            if starts_at < ends_at:
                raise ValidationError(
                    f"Two of these shifts overlap (one ends {on_site_clock(ends_at, site)}, the next starts"
                    f" {on_site_clock(starts_at, next_site)}): a person works one shift at a time."
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


class OnSiteClockColumns:
    """A list page's start and end columns as the site's clock shows them (the times typed)."""

    @admin.display(description="starts", ordering="starts_at")
    def starts_on_site_clock(self, row: Shift | Closure) -> str:
        return on_site_clock(row.starts_at, row.site)

    @admin.display(description="ends", ordering="ends_at")
    def ends_on_site_clock(self, row: Shift | Closure) -> str:
        return on_site_clock(row.ends_at, row.site)


@admin.register(Shift)
class ShiftAdmin(OnSiteClockColumns, SetUpAdminMixin, ConcurrentEditAdminMixin, admin.ModelAdmin):
    form = ShiftForm
    list_display = ["staff", "role", "site", "starts_on_site_clock", "ends_on_site_clock"]
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


class ClosureForm(SiteClockForm):
    closes_every_site = True


@admin.register(Closure)
class ClosureAdmin(OnSiteClockColumns, SetUpAdminMixin, ConcurrentEditAdminMixin, admin.ModelAdmin):
    form = ClosureForm
    # A closure naming a chair takes only that chair out of use (it must be one of the site's).
    fields = ["site", "chair", "starts_at", "ends_at", "reason"]
    list_display = ["reason", "site", "chair", "starts_on_site_clock", "ends_on_site_clock"]
    list_filter = ["site", ("chair", admin.EmptyFieldListFilter)]
    search_fields = ["reason", "chair__name"]
    date_hierarchy = "starts_at"
    list_select_related = ["site", "chair__site"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "chair":
            # Each choice is named with its site ("Downtown · Chair 2"): read with the chairs.
            kwargs["queryset"] = Chair.objects.select_related("site")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


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
        "templates_refused",
    ]
    list_filter = ["email_enabled", "sms_enabled"]
    search_fields = ["site__name"]
    list_select_related = ["site"]

    def get_readonly_fields(self, request: HttpRequest, obj: ReminderPolicy | None = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.template_problems():
            readonly.append("templates_refused")
        return readonly

    def get_fields(self, request: HttpRequest, obj: ReminderPolicy | None = None) -> list[str]:
        # A stored template the engine now refuses is said first, before the fields to correct.
        fields = list(super().get_fields(request, obj))
        return sorted(fields, key=lambda name: name != "templates_refused")

    @admin.display(description="template problems")
    def templates_refused(self, policy: ReminderPolicy) -> str:
        """A template saved before the engine refused what it uses (ReminderPolicy.template_problems):
        which, and why. Reminders meanwhile go out in the built-in wording in its place."""
        problems = policy.template_problems()
        if not problems:
            return ""
        refused = format_html_join(
            "",
            "<p>{} no longer accepted: {}</p>",
            ((capfirst(ReminderPolicy._meta.get_field(name).verbose_name), why) for name, why in problems.items()),
        )
        return format_html("{}<p>Reminders use the built-in wording instead until this is corrected.</p>", refused)


# A patient's number as the pages show it (/patients/<number>/): digits only, and small enough
# for any database's integer (SQLite's is 64-bit).
PATIENT_NUMBER = re.compile(r"[0-9]{1,18}")


class AccessLogPatientFilter(admin.SimpleListFilter):
    """Who saw this patient's data: the rows whose `patient_ids` name the patient, by the number
    in the patient's page address (every page, mailed list and SIU message names patients so).
    A box to type it in, since the log cannot offer every patient as a link."""

    title = "patient"
    parameter_name = "patient"
    template = "admin/clinic/accesslog/patient_filter.html"

    def value(self) -> str | None:
        # The box submitted empty (`?patient=`, or only spaces) asks for the whole log, not for a
        # patient called "": no filter, no error (an empty list would read as "nobody looked").
        value = super().value()
        return None if value is None else value.strip() or None

    def patient_id(self) -> int | None:
        value = self.value()
        return int(value) if value is not None and PATIENT_NUMBER.fullmatch(value) else None

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        patient_id = self.patient_id()
        return [] if patient_id is None else [(str(patient_id), f"Patient {patient_id}")]

    def has_output(self) -> bool:
        return True  # the box shows before any patient is asked for

    def choices(self, changelist: Any) -> Iterator[Any]:
        # The box's form sends the list's other filters and search along, as the search box does.
        self.kept_params = [(name, value) for name, value in changelist.params.items() if name != self.parameter_name]
        yield from super().choices(changelist)

    def queryset(self, request: HttpRequest, queryset: QuerySet[AccessLog]) -> QuerySet[AccessLog] | None:
        value = self.value()
        if value is None:
            return None
        patient_id = self.patient_id()
        if patient_id is None:
            messages.error(
                request,
                f"“{value}” is not a patient's number. Give the number in the patient's page address "
                "(/patients/<number>/), for example 12.",
            )
            return queryset.none()
        # Looking up a patient's trail is a look at that patient: it shows in the trail too.
        patients_shown(request, [patient_id])
        return access_log_naming_patient(queryset, patient_id)


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    """An audit trail: readable, never added to, changed or deleted by hand."""

    list_display = ["at", "event", "user", "username", "method", "path", "status_code", "ip_address", "patient_ids"]
    list_filter = [AccessLogPatientFilter, "event", "method", "status_code"]
    search_fields = ["path", "user__username", "username", "ip_address"]
    date_hierarchy = "at"
    list_select_related = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AccessLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AccessLog | None = None) -> bool:
        return False
