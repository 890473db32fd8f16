"""The clinic's own set-up: sites, chairs, staff and their shifts, opening
hours, closures and the reminder policy. Clinic administrators edit these in
the Django admin; everything else reads them."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cached_property
from typing import Any

import holidays
from django.conf import settings
from django.contrib.postgres.fields import RangeOperators
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from clinic import reminder_templates
from clinic.db import PostgresExclusionConstraint, TsTzRange


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a folder of zones
        raise ValidationError(f"{value!r} is not an IANA time zone such as 'America/New_York'.") from None


def validate_holiday_country(value: str) -> None:
    if value not in holidays.list_supported_countries():
        raise ValidationError(f"{value!r} is not a country code the public-holiday calendar knows, such as 'US'.")


class Route(models.TextChoices):
    IV = "iv", "Intravenous infusion"
    IM = "im", "Intramuscular injection"
    INTRANASAL = "intranasal", "Esketamine nasal spray"
    ORAL = "oral", "Oral / sublingual"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"


class Role(models.TextChoices):
    FRONT_DESK = "front_desk", "Front desk"
    NURSE = "nurse", "Infusion nurse"
    PRESCRIBER = "prescriber", "Prescriber"
    CLINIC_ADMIN = "clinic_admin", "Clinic administrator"


CLINICIAN_ROLES = frozenset({Role.NURSE, Role.PRESCRIBER})


class PlacementPolicy(models.TextChoices):
    """How the scheduling engine chooses among feasible times (scheduling/engine/placement.py)."""

    LEVEL = "level", "Level-load (setups apart, quiet days, even chairs and nurses)"
    EARLIEST = "earliest", "Earliest free time"


class Site(models.Model):
    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], help_text="IANA zone, e.g. America/Denver"
    )
    address = models.TextField()
    phone = PhoneNumberField()
    # A nurse watches at most this many patients at once (1 nurse : 3 chairs is common).
    max_patients_per_nurse = models.PositiveSmallIntegerField(default=3)
    # Proposed start times fall on this grid, in minutes past the hour.
    slot_step_minutes = models.PositiveSmallIntegerField(default=15)
    arrival_notes = models.TextField(blank=True, help_text="Parking, entrance, what to bring: shown in reminders.")
    # A nurse's hands-on work (setup, checks, discharge: the protocol's nurse minutes) for at most this
    # many patients at the same moment; monitoring in between counts against max_patients_per_nurse.
    setups_per_nurse = models.PositiveSmallIntegerField(
        default=1, help_text="How many patients one nurse can set up, check or discharge at the same time."
    )
    placement_policy = models.CharField(
        max_length=10,
        choices=PlacementPolicy.choices,
        default=PlacementPolicy.LEVEL,
        help_text="How proposals choose among free times: level-load the day and the week, or the earliest.",
    )
    # Whose public holidays the site is offered as closures (clinic.public_holidays).
    country = models.CharField(
        max_length=2, default="US", validators=[validate_holiday_country], help_text="ISO 3166 code, e.g. US"
    )
    subdivision = models.CharField(
        max_length=10, blank=True, help_text="State or province code for its own holidays, e.g. CO; blank for none"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(max_patients_per_nurse__gte=1), name="site_nurse_ratio_positive"),
            models.CheckConstraint(condition=Q(setups_per_nurse__gte=1), name="site_setups_per_nurse_positive"),
            models.CheckConstraint(
                condition=Q(slot_step_minutes__gte=5, slot_step_minutes__lte=60), name="site_slot_step_5_to_60"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        # The check constraints' rules, said of the field (a constraint's refusal names only itself).
        if self.max_patients_per_nurse is not None and self.max_patients_per_nurse < 1:
            raise ValidationError({"max_patients_per_nurse": "A nurse looks after at least one patient."})
        if self.setups_per_nurse is not None and self.setups_per_nurse < 1:
            raise ValidationError({"setups_per_nurse": "A nurse sets up at least one patient at a time."})
        if self.slot_step_minutes is not None and not (
            5 <= self.slot_step_minutes <= 60 and 60 % self.slot_step_minutes == 0
        ):
            # Start times repeat every hour: 08:00, 08:15 ..., never 08:07.
            raise ValidationError(
                {
                    "slot_step_minutes": "The step between start times divides an hour: 5, 6, 10, 12, 15, 20, 30 or 60 minutes."
                }
            )
        if self.subdivision and self.country in holidays.list_supported_countries():
            known = holidays.list_supported_countries()[self.country]
            if self.subdivision not in known:
                raise ValidationError({"subdivision": f"{self.country} has no subdivision {self.subdivision!r}."})

    @cached_property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def reminder_policy_or_default(self) -> ReminderPolicy:
        """The site's policy; every site gets one when it is created (clinic.signals), but a
        reader must not crash (or answer 404) if one was deleted: it gets the defaults, unsaved."""
        try:
            return self.reminder_policy
        except ReminderPolicy.DoesNotExist:
            return ReminderPolicy(site=self)


class Chair(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="chairs")
    name = models.CharField(max_length=60)
    active = models.BooleanField(default=True)
    # The routes this chair is equipped for (IV pump, monitoring, ...).
    equipment = models.JSONField(default=list, blank=True, help_text='Routes, e.g. ["iv", "intranasal"]')

    class Meta:
        ordering = ["site", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="chair_name_unique_per_site")]

    def __str__(self) -> str:
        return f"{self.site.name} · {self.name}"

    def clean(self) -> None:
        unknown = set(self.equipment or []) - set(Route.values)
        if not isinstance(self.equipment, list) or unknown:
            raise ValidationError({"equipment": f"Use a list of routes from {sorted(Route.values)}."})
        if self.pk is not None and self.site_id is not None:
            # Sessions are seen by the site of their chair: moved, its sessions (booked and
            # past) would leave their site's desk and records for another's.
            was_at = type(self).objects.filter(pk=self.pk).values_list("site_id", flat=True).first()
            if was_at not in (None, self.site_id) and self.appointments.exists():  # type: ignore[attr-defined]
                raise ValidationError(
                    {"site": "This chair has sessions at its site, so it stays there: add a chair at the other site."}
                )
            if was_at not in (None, self.site_id) and self.closures.exists():  # type: ignore[attr-defined]
                # Its out-of-use periods close it at its site: moved, they would name the wrong one.
                raise ValidationError(
                    {"site": "This chair has out-of-use periods at its site: remove them before moving it."}
                )


class StaffMember(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff")
    role = models.CharField(max_length=20, choices=Role.choices)
    sites = models.ManyToManyField(Site, related_name="staff", blank=True)
    # Clinic-wide staff (a medical director, an operations lead) see every site. Never implied by the
    # role: a clinic administrator configures only the sites listed in `sites` unless this is set.
    all_sites = models.BooleanField(
        default=False, help_text="Works across the whole clinic: sees and acts at every site, not only those listed."
    )
    active = models.BooleanField(default=True)
    # The sites too: which sites someone was given (what they may see and be booked at) is a
    # change the history must show.
    history = HistoricalRecords(m2m_fields=[sites])

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.get_role_display()})"

    @property
    def display_name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    @property
    def is_clinician(self) -> bool:
        return self.role in CLINICIAN_ROLES


# The longest a shift may last; see scheduling.models.MAX_SESSION_LENGTH for why reads need it.
MAX_SHIFT_LENGTH = dt.timedelta(hours=24)


def require_end_after_start(starts: dt.datetime | None, ends: dt.datetime | None, *, field: str, what: str) -> None:
    """A period's end after its start, said of the end's field."""
    if starts is not None and ends is not None and ends <= starts:
        raise ValidationError({field: f"The {what} must end after it starts."})


class Shift(models.Model):
    """One staff member working at one site for a stretch of time."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="shifts")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="shifts")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["site", "starts_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(starts_at__lt=models.F("ends_at")), name="shift_starts_before_end"),
            models.CheckConstraint(
                condition=Q(ends_at__lte=models.F("starts_at") + MAX_SHIFT_LENGTH), name="shift_at_most_max_length"
            ),
            PostgresExclusionConstraint(
                name="shift_no_overlap_per_staff",
                expressions=[
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                    ("staff", RangeOperators.EQUAL),
                ],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff} at {self.site} {self.starts_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        # Before the constraints are validated: a range that ends before it starts cannot even be
        # compared with the nurse's other shifts.
        check_shift_period(self.starts_at, self.ends_at)


def check_shift_period(starts: dt.datetime | None, ends: dt.datetime | None) -> None:
    """A shift's own period: it ends after it starts and lasts at most MAX_SHIFT_LENGTH."""
    require_end_after_start(starts, ends, field="ends_at", what="shift")
    if starts and ends and ends - starts > MAX_SHIFT_LENGTH:
        hours = int(MAX_SHIFT_LENGTH.total_seconds() // 3600)
        raise ValidationError({"ends_at": f"A shift lasts at most {hours} hours."})


class OpeningHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        ordering = ["site", "weekday"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.UniqueConstraint(fields=["site", "weekday"], name="opening_hours_one_per_weekday"),
            models.CheckConstraint(
                condition=Q(opens_at__lt=models.F("closes_at")), name="opening_hours_open_before_close"
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="opening_hours_weekday_0_to_6"),
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.get_weekday_display()} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"

    def clean(self) -> None:
        if self.opens_at is not None and self.closes_at is not None and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": "The site must close after it opens."})


class Closure(models.Model):
    """A holiday or one-off closed period; no site means every site. With a chair, only that chair
    is out of use for the period (a pump broken, a chair being replaced): the site's other chairs
    stay bookable."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="closures", null=True, blank=True)
    chair = models.ForeignKey(
        Chair,
        on_delete=models.CASCADE,
        related_name="closures",
        null=True,
        blank=True,
        help_text="Only this chair is out of use (one of the site's); empty: the whole site is closed.",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(starts_at__lt=models.F("ends_at")), name="closure_starts_before_end"),
            # A chair's period belongs to its site (clean() checks it is the chair's own: a check
            # constraint cannot look at the chair's row).
            models.CheckConstraint(
                condition=Q(chair__isnull=True) | Q(site__isnull=False), name="closure_of_a_chair_names_its_site"
            ),
        ]

    def __str__(self) -> str:
        if self.chair_id is not None:
            return f"{self.reason} ({self.chair} out of use)"
        return f"{self.reason} ({self.site or 'all sites'})"

    def clean(self) -> None:
        require_end_after_start(self.starts_at, self.ends_at, field="ends_at", what="closure")
        if self.chair_id is None:
            return
        if self.site_id is None:
            raise ValidationError(
                {"site": "Name the site of the chair: a closure naming a chair closes that chair alone."}
            )
        if self.chair.site_id != self.site_id:
            raise ValidationError({"chair": f"{self.chair.name} is not a chair of this site."})


def default_reminder_offsets() -> list[int]:
    return [72, 24, 2]


class ReminderPolicy(models.Model):
    """How and when one site reminds its patients."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="reminder_policy")
    offsets_hours = models.JSONField(
        default=default_reminder_offsets, help_text="Hours before the session, e.g. [72, 24, 2]"
    )
    email_enabled = models.BooleanField(default=True)
    sms_enabled = models.BooleanField(default=True)
    # Quiet hours in the patient's own zone; may wrap past midnight (21:00–08:00).
    quiet_hours_start = models.TimeField(default=dt.time(21, 0))
    quiet_hours_end = models.TimeField(default=dt.time(8, 0))
    # Patients may cancel (or move) online until this many hours before the session; confirming,
    # which frees nothing, stays open until the session starts.
    patient_notice_hours = models.PositiveSmallIntegerField(default=24)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    subject_template = models.CharField(
        max_length=200, default="Reminder: your appointment at {{ site_name }} on {{ local_start|date:'l j F, H:i' }}"
    )
    body_template = models.TextField(
        default=(
            "Hello {{ patient_first_name }},\n\n"
            "This is a reminder of your session at {{ site_name }} on {{ local_start|date:'l j F Y' }} "
            "at {{ local_start|date:'H:i' }} ({{ time_zone }}).\n\n"
            "Address: {{ site_address }}\n\n"
            "Please prepare:\n{{ preparation_notes }}\n\n"
            "Confirm: {{ confirm_url }}\nCancel: {{ cancel_url }}\n"
        )
    )
    # Neutral wording by default: subjects and texts show on lock screens and
    # shared devices, so they name the clinic, never the drug or treatment.
    sms_template = models.CharField(
        max_length=320,
        default=(
            "Appointment at {{ site_name }} {{ local_start|date:'D j M H:i' }}{{ zone_note }}. Arrange a ride "
            "home. Confirm {{ confirm_url }} Cancel {{ cancel_url }}"
        ),
        help_text="{{ zone_note }} names the patient's time zone (e.g. \" PST\") when it is not the site's.",
    )
    history = HistoricalRecords()

    # The templates an administrator writes, compiled by clinic.reminder_templates' engine.
    TEMPLATE_FIELDS = ("subject_template", "body_template", "sms_template")

    class Meta:
        verbose_name_plural = "reminder policies"
        constraints = [
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="reminder_policy_attempts_positive"),
        ]

    def __str__(self) -> str:
        return f"Reminder policy for {self.site}"

    def clean(self) -> None:
        offsets = self.offsets_hours
        if not isinstance(offsets, list) or not all(isinstance(h, int) and 0 < h <= 24 * 14 for h in offsets):
            raise ValidationError({"offsets_hours": "Use a list of whole hours between 1 and 336, e.g. [72, 24, 2]."})
        if len(set(offsets)) != len(offsets):
            raise ValidationError({"offsets_hours": "Each offset may appear once."})
        # A template that cannot render is refused here (the admin and the API both validate
        # through this), not found at send time.
        problems = self.template_problems()
        if problems:
            raise ValidationError(problems)

    def template_problems(self) -> dict[str, str]:
        """Why each of this policy's templates that cannot be used is refused, by field name (empty
        when all render). A template saved before a rule came in (a loop, `|safe`) is found here
        too: the admin shows it, and reminders use the built-in wording in its place
        (scheduling.reminders.rendering)."""
        problems = {}
        for name in self.TEMPLATE_FIELDS:
            problem = self.template_problem(getattr(self, name))
            if problem is not None:
                problems[name] = problem
        return problems

    def template_problem(self, source: str) -> str | None:
        """Why `source` cannot be one of this policy's templates (rendered once as a reminder of
        its site would be), or None."""
        site = self.site if self.site_id is not None else None
        zone = site.zone if site is not None else zoneinfo.ZoneInfo("UTC")
        context = reminder_templates.sample_context(
            site_name=site.name if site is not None else "Clinic",
            site_address=site.address if site is not None else "",
            site_phone=str(site.phone) if site is not None and site.phone else "",
            time_zone=zone.key,
        )
        return reminder_templates.reminder_template_problem(source, context, zone)


class AccessLogAppendOnlyError(Exception):
    """Raised on any attempt to change or delete an access-log row through the ORM."""


class AccessLogQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise AccessLogAppendOnlyError("The access log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AccessLogAppendOnlyError("The access log is append-only.")


class AccessLog(models.Model):
    """Who looked at or changed patient data, from where, and which patients the answer showed.
    Written by clinic.audit (from the middleware, the failed-login signal, and a task mailing a
    list of patients to staff: method EMAIL, one row per login it went to, and SIU delivery for
    each message a site's EHR acknowledged: method HL7, no user); append-only:
    the ORM refuses changes, a trigger refuses them in PostgreSQL, and the app's database
    role has no UPDATE/DELETE/TRUNCATE right on the table (deploy/postgres/)."""

    class Event(models.TextChoices):
        REQUEST = "request", "Request"
        LOGIN_FAILED = "login_failed", "Failed login"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    event = models.CharField(max_length=20, choices=Event.choices, default=Event.REQUEST)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    # None for a login refused outside any request (a shell, a command) and for a list mailed by a
    # task: there is no answer.
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    username = models.CharField(max_length=150, blank=True, help_text="The username tried, for a failed login.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    # A JSON list rather than a join table: one INSERT per request, and SQLite (the embedded default) can hold it.
    patient_ids = models.JSONField(default=list, blank=True, help_text="The patients the answer showed.")

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.user_id} {self.method} {self.path} {self.status_code}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise AccessLogAppendOnlyError("The access log is append-only.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AccessLogAppendOnlyError("The access log is append-only.")


__all__ = [
    "AccessLog",
    "AccessLogAppendOnlyError",
    "Chair",
    "Channel",
    "Closure",
    "OpeningHours",
    "ReminderPolicy",
    "Role",
    "Route",
    "Shift",
    "Site",
    "StaffMember",
]
