"""Patients and their screening: the clinic-maintained contraindication list,
the patient's recorded flags and the mental-health evaluation."""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from clinic.dates import birth_date_problem
from clinic.models import Channel, Site, validate_time_zone
from clinic.validators import same_address, single_line


def one_form(text: str) -> str:
    """A name as stored and searched: one Unicode form (NFC), so that "José" typed as é or as e and a
    combining accent is one name, and no edge spaces."""
    return unicodedata.normalize("NFC", text).strip()


def new_calendar_token() -> str:
    return secrets.token_urlsafe(24)


# What the patient confirmed of the contact email (Patient.save writes them only on purpose).
EMAIL_CONFIRMATION_FIELDS = ("email_confirmed", "email_confirmed_at")


class Patient(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="patient"
    )
    first_name = models.CharField(max_length=100, validators=[single_line])
    last_name = models.CharField(max_length=100, validators=[single_line])
    date_of_birth = models.DateField()
    # The medical record number the clinic's EHR knows the patient by (FHIR Patient.identifier).
    mrn = models.CharField("MRN", max_length=64, unique=True, null=True, blank=True)
    email = models.EmailField(blank=True)
    # The contact email as the patient confirmed it: a link mailed to it, opened while signed in to
    # the portal (patients/email_confirmation.py). A password reset reaches a portal login with no
    # email of its own only at a confirmed address, since the front desk types `email`; a changed
    # `email` is unconfirmed until the patient confirms it again.
    email_confirmed = models.EmailField(blank=True, editable=False)
    email_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # An address the patient asked, in the portal, to use instead: it becomes `email` only once
    # they confirm it from that mailbox (patients/email_confirmation.py); until then the clinic
    # writes to `email`. Written on purpose only, like the confirmation.
    email_requested = models.EmailField(blank=True, editable=False)
    mobile_phone = PhoneNumberField(blank=True)
    home_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    # Blank means the home site's zone.
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])
    preferred_channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    reminder_consent = models.BooleanField(default=False, help_text="Agreed to receive reminders.")
    reminder_consent_changed_at = models.DateTimeField(null=True, blank=True)
    escort_name = models.CharField("usual driver home", max_length=120, blank=True)
    escort_phone = PhoneNumberField(blank=True)
    emergency_contact_name = models.CharField(max_length=120, blank=True)
    emergency_contact_phone = PhoneNumberField(blank=True)
    emergency_contact_relation = models.CharField(max_length=60, blank=True)
    medications = models.TextField(blank=True, help_text="Current medications, one per line.")
    seizure_history = models.BooleanField(default=False)
    # Secret part of the patient's private calendar-subscription URL; null once the
    # patient turns the feed off (unique allows any number of nulls).
    calendar_token = models.CharField(
        max_length=64, unique=True, null=True, blank=True, default=new_calendar_token, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["calendar_token"])

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["last_name", "first_name"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(date_of_birth__gt=dt.date(1900, 1, 1)), name="patient_date_of_birth_plausible"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """The patient's confirmation of the contact email is written by the confirmation alone
        (patients/email_confirmation.py, naming its fields), and cleared when the address changes
        by more than case, so that an old address put back is unconfirmed until the patient
        confirms it anew. A save of the whole row leaves it out: one read before the patient
        confirmed (a desk's edit of the phone) must not write it back empty."""
        update_fields = kwargs.get("update_fields")
        names = set(update_fields) if update_fields is not None else None
        self._email_changed = False  # for patients/notices.py: told to the old address after the commit
        if self.pk is None or (names is not None and "email" not in names):
            super().save(*args, **kwargs)
            return
        # The row as stored (history's "Revert" saves a copy built afresh, with its id: an update too),
        # locked to the save's commit when there is a transaction, so that a confirmation cannot land
        # between this read and the write.
        rows = type(self)._base_manager.filter(pk=self.pk)
        if transaction.get_connection().in_atomic_block:
            rows = rows.select_for_update()
        stored = rows.values_list("email", "email_requested", *EMAIL_CONFIRMATION_FIELDS).first()
        if stored is None:  # a new row with its id chosen
            super().save(*args, **kwargs)
            return
        email, requested, *confirmation = stored
        self._email_changed = email != self.email
        readdress = email != self.email and not same_address(email, self.email)
        if readdress:
            self.email_confirmed, self.email_confirmed_at = "", None
        if names is None:
            deferred = self.get_deferred_fields()  # as Django does: a row read in part writes that part
            names = {f.name for f in self._meta.concrete_fields if not f.primary_key and f.attname not in deferred}
            if not readdress:
                names -= set(EMAIL_CONFIRMATION_FIELDS)
            # The patient's request is theirs: a row read before it must not write it back empty.
            names.discard("email_requested")
        elif readdress:
            names |= set(EMAIL_CONFIRMATION_FIELDS)
        if not names & set(EMAIL_CONFIRMATION_FIELDS):
            # The copy (and so its history row) says what the row keeps, not what was read before.
            self.email_confirmed, self.email_confirmed_at = confirmation
        if "email_requested" not in names:
            self.email_requested = requested
        kwargs["update_fields"] = names
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def email_is_confirmed(self) -> bool:
        """Whether the patient confirmed the contact email as it is now (a change of case is none)."""
        return same_address(self.email_confirmed, self.email)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone or self.home_site.time_zone)

    def age_on(self, day: dt.date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def clean(self) -> None:
        # Every write that validates (services, admin) stores the names in one form.
        self.first_name, self.last_name = one_form(self.first_name), one_form(self.last_name)
        if self.date_of_birth:
            zone = self.time_zone or (self.home_site.time_zone if self.home_site_id else "")
            problem = birth_date_problem(self.date_of_birth, zone=zone, now=timezone.now())
            if problem:
                raise ValidationError({"date_of_birth": problem})
        if self.preferred_channel == Channel.SMS and not self.mobile_phone and not self.email:
            raise ValidationError({"mobile_phone": "Text-message reminders need a mobile number."})


class Contraindication(models.Model):
    """One entry of the clinic's own list of reasons not to book without a
    clinician's documented decision. Rules with a threshold are evaluated
    against the patient's data; flags are recorded per patient."""

    class Kind(models.TextChoices):
        FLAG = "flag", "Recorded per patient"
        MIN_AGE = "min_age", "Younger than (years)"
        MAX_SYSTOLIC = "max_systolic", "Systolic blood pressure above (mmHg)"
        MAX_DIASTOLIC = "max_diastolic", "Diastolic blood pressure above (mmHg)"
        MAX_HEART_RATE = "max_heart_rate", "Heart rate above (bpm)"
        SEIZURE_HISTORY = "seizure_history", "History of seizures"

    code = models.SlugField(max_length=60, unique=True)
    label = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.FLAG)
    threshold = models.PositiveSmallIntegerField(null=True, blank=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["label"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["flag", "seizure_history"], threshold__isnull=True)
                    | (~Q(kind__in=["flag", "seizure_history"]) & Q(threshold__isnull=False))
                ),
                name="contraindication_threshold_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.label


class PatientFlag(models.Model):
    """A clinic-defined contraindication recorded as present for a patient."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="flags")
    contraindication = models.ForeignKey(
        Contraindication, on_delete=models.PROTECT, related_name="+", limit_choices_to={"kind": "flag"}
    )
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "contraindication"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "contraindication"], name="patient_flag_once"),
        ]

    def __str__(self) -> str:
        return f"{self.patient}: {self.contraindication}"


# Screening readings a person could have, the session vitals' ranges too (clinical.services.PLAUSIBLE
# reads them from here; the VitalSigns constraints in clinical/models.py state the same numbers). The
# field validators hold them, so a form or an API answer names the field and the range.
SCREENING_PLAUSIBLE: dict[str, tuple[int, int]] = {
    "systolic_bp": (60, 260),
    "diastolic_bp": (30, 160),
    "heart_rate": (25, 250),
}
# The wider bounds the database's check constraints have held since the first migration: evaluations
# recorded before the ranges above were the session vitals' keep within them and are not re-checked.
SCREENING_STORED_BOUNDS: dict[str, tuple[int, int]] = {
    "systolic_bp": (50, 300),
    "diastolic_bp": (20, 200),
    "heart_rate": (20, 250),
}


def plausible(field: str) -> list[MinValueValidator | MaxValueValidator]:
    low, high = SCREENING_PLAUSIBLE[field]
    message = f"%(show_value)s is not plausible; expected {low}–{high}."
    return [MinValueValidator(low, message=message), MaxValueValidator(high, message=message)]


# An ICD-10-CM code: a letter, a digit and a letter or digit (the category), then optionally a dot
# and up to four more (F32.9, F43.10, G89.4). Stored in capitals; the dot may be left out (F329).
ICD10_CODE = RegexValidator(
    r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$",
    message="Enter an ICD-10 code: a letter, two characters, then optionally a dot and up to 4 more, "
    "e.g. F32.9 or F43.10.",
)


class Evaluation(models.Model):
    """The evaluation by a mental-health professional that precedes the first
    infusion, with the screening vitals taken then."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="evaluations")
    evaluated_on = models.DateField()
    evaluator_name = models.CharField(max_length=120)
    evaluator_credentials = models.CharField(
        max_length=120, blank=True, help_text="e.g. MD, psychiatrist; PhD, psychologist"
    )
    diagnosis = models.CharField(max_length=200)
    icd10_code = models.CharField("ICD-10 code", max_length=10, blank=True, validators=[ICD10_CODE])
    systolic_bp = models.PositiveSmallIntegerField(
        "systolic (mmHg)", null=True, blank=True, validators=plausible("systolic_bp")
    )
    diastolic_bp = models.PositiveSmallIntegerField(
        "diastolic (mmHg)", null=True, blank=True, validators=plausible("diastolic_bp")
    )
    heart_rate = models.PositiveSmallIntegerField(
        "heart rate (bpm)", null=True, blank=True, validators=plausible("heart_rate")
    )
    cardiac_history = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-evaluated_on"]
        get_latest_by = "evaluated_on"
        constraints = [
            models.CheckConstraint(condition=~Q(diagnosis=""), name="evaluation_has_diagnosis"),
            models.CheckConstraint(
                condition=Q(systolic_bp__isnull=True) | Q(systolic_bp__range=SCREENING_STORED_BOUNDS["systolic_bp"]),
                name="evaluation_systolic_plausible",
            ),
            models.CheckConstraint(
                condition=Q(diastolic_bp__isnull=True) | Q(diastolic_bp__range=SCREENING_STORED_BOUNDS["diastolic_bp"]),
                name="evaluation_diastolic_plausible",
            ),
            models.CheckConstraint(
                condition=Q(heart_rate__isnull=True) | Q(heart_rate__range=SCREENING_STORED_BOUNDS["heart_rate"]),
                name="evaluation_heart_rate_plausible",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} evaluated {self.evaluated_on}: {self.diagnosis}"

    def clean_fields(self, exclude: Any = None) -> None:
        self.icd10_code = (self.icd10_code or "").strip().upper()
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        super().clean()
        systolic, diastolic = self.systolic_bp, self.diastolic_bp
        if systolic is not None and diastolic is not None and diastolic >= systolic:
            raise ValidationError(
                {
                    "diastolic_bp": f"Diastolic {diastolic} must be below systolic {systolic}: "
                    "check the two readings were not swapped."
                }
            )


class EmailChangeNotice(models.Model):
    """A notice owed to the address a patient's contact email had before a change (patients/notices.py):
    written in the change's own transaction, so that it outlives a broker that is down when the change
    commits. The task claims it (a lease), sends it outside any transaction and marks it sent; beat's
    sweep sends those still owed. The address is
    not stored here: it is read from the change's history row and the one before it."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="email_change_notices")
    history_id = models.BigIntegerField(unique=True, help_text="The change's row in the patient's history.")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Sent, or found to have nothing to tell.")
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="Being sent by a worker until then (the claim's lease)."
    )

    class Meta:
        indexes = [models.Index(fields=["created_at"], condition=Q(sent_at__isnull=True), name="email_notice_owed_idx")]

    def __str__(self) -> str:
        return f"Email change notice for patient {self.patient_id}"
