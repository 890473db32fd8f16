"""The clinical record of one session: vital signs before and after, the prescriber's
clearance when pre-infusion vitals hold the start, what was given (and the controlled
substance log it writes), and recovery up to discharge.

Vital signs and clearances are facts recorded at a moment: a new reading is a new row,
never an edit. The controlled-substance log is append-only in the ORM and, on
PostgreSQL, in the database itself (migration 0002). Writes go through clinical.services.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from clinic.models import Route, Site, StaffMember
from patients.models import Patient
from scheduling.models import Appointment


class VitalsThresholds(models.Model):
    """A site's limits for pre-infusion vitals; a reading past one holds the start until a
    prescriber clears it. Clinic data: administrators tune it in the admin."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="vitals_thresholds")
    systolic_max = models.PositiveSmallIntegerField("systolic above", default=160)
    diastolic_max = models.PositiveSmallIntegerField("diastolic above", default=100)
    heart_rate_max = models.PositiveSmallIntegerField("heart rate above", default=110)
    spo2_min = models.PositiveSmallIntegerField("SpO2 below", default=92)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "vital-sign limits"
        verbose_name_plural = "vital-sign limits"
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    systolic_max__gte=80,
                    systolic_max__lte=250,
                    diastolic_max__gte=40,
                    diastolic_max__lte=150,
                    heart_rate_max__gte=40,
                    heart_rate_max__lte=220,
                    spo2_min__gte=70,
                    spo2_min__lte=100,
                ),
                name="vitals_thresholds_plausible",
            ),
        ]

    def __str__(self) -> str:
        return f"Vital-sign limits for {self.site}"


class VitalsPhase(models.TextChoices):
    PRE = "pre", "Pre-infusion"
    RECOVERY = "recovery", "Recovery"


class VitalSigns(models.Model):
    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="vital_signs")
    phase = models.CharField(max_length=10, choices=VitalsPhase.choices)
    systolic = models.PositiveSmallIntegerField()
    diastolic = models.PositiveSmallIntegerField()
    heart_rate = models.PositiveSmallIntegerField()
    spo2 = models.PositiveSmallIntegerField("SpO2 (%)")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["recorded_at", "pk"]
        verbose_name_plural = "vital signs"
        indexes = [models.Index(fields=["appointment", "phase", "recorded_at"])]
        constraints = [
            # Plausible for a living, seated adult; anything outside is a typing error.
            models.CheckConstraint(condition=Q(systolic__gte=60, systolic__lte=260), name="vitals_systolic_plausible"),
            models.CheckConstraint(
                condition=Q(diastolic__gte=30, diastolic__lte=160), name="vitals_diastolic_plausible"
            ),
            models.CheckConstraint(condition=Q(diastolic__lt=F("systolic")), name="vitals_diastolic_below_systolic"),
            models.CheckConstraint(
                condition=Q(heart_rate__gte=25, heart_rate__lte=250), name="vitals_heart_rate_plausible"
            ),
            models.CheckConstraint(condition=Q(spo2__gte=50, spo2__lte=100), name="vitals_spo2_plausible"),
        ]

    def __str__(self) -> str:
        return f"{self.get_phase_display()} {self.systolic}/{self.diastolic}, HR {self.heart_rate}, SpO2 {self.spo2}%"


class StartClearance(models.Model):
    """A prescriber's documented decision to start despite the pre-infusion vitals. It covers
    the readings taken up to `cleared_at`; a later out-of-range reading holds the start again."""

    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="start_clearances")
    prescriber = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    held_for = models.TextField(help_text="The reasons the start was held, as shown to the prescriber.")
    cleared_at = models.DateTimeField()

    class Meta:
        ordering = ["cleared_at", "pk"]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="start_clearance_has_reason")]

    def __str__(self) -> str:
        return f"Cleared by {self.prescriber} at {self.cleared_at:%Y-%m-%d %H:%M} UTC"


class SideEffect(models.Model):
    """The clinic's list of side effects to tick at recovery."""

    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=120)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label


class Administration(models.Model):
    """What was given in the session. Every record and correction writes a
    ControlledSubstanceEntry in the same transaction."""

    appointment = models.OneToOneField(Appointment, on_delete=models.PROTECT, related_name="administration")
    route = models.CharField(max_length=20, choices=Route.choices)
    dose_mg_per_kg = models.DecimalField(max_digits=5, decimal_places=3)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1)
    total_mg = models.DecimalField(max_digits=7, decimal_places=2)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    lot_number = models.CharField(max_length=60)
    given_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(dose_mg_per_kg__gt=0, dose_mg_per_kg__lte=Decimal("5")),
                name="administration_dose_plausible",
            ),
            models.CheckConstraint(
                condition=Q(weight_kg__gte=Decimal("20"), weight_kg__lte=Decimal("400")),
                name="administration_weight_plausible",
            ),
            models.CheckConstraint(
                condition=Q(total_mg__gt=0, total_mg__lte=Decimal("1000")), name="administration_total_plausible"
            ),
            models.CheckConstraint(condition=Q(started_at__lt=F("ended_at")), name="administration_starts_before_end"),
            models.CheckConstraint(condition=~Q(lot_number=""), name="administration_has_lot_number"),
        ]

    def __str__(self) -> str:
        return f"{self.total_mg} mg {self.get_route_display()} ({self.appointment})"


class Recovery(models.Model):
    appointment = models.OneToOneField(Appointment, on_delete=models.PROTECT, related_name="recovery")
    side_effects = models.ManyToManyField(SideEffect, blank=True, related_name="+")
    other_side_effects = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    discharged_at = models.DateTimeField()
    driver_name = models.CharField("driver home", max_length=120)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    history = HistoricalRecords(m2m_fields=[side_effects])

    class Meta:
        verbose_name_plural = "recoveries"
        # The patient must not drive: a discharge always names who takes them home.
        constraints = [models.CheckConstraint(condition=~Q(driver_name=""), name="recovery_has_driver")]

    def __str__(self) -> str:
        return f"Discharged {self.discharged_at:%Y-%m-%d %H:%M} UTC with {self.driver_name}"


class AppendOnlyError(Exception):
    """The controlled-substance log is never changed or deleted; correct it with a new entry."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("The controlled-substance log is append-only; record a correction instead.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The controlled-substance log is append-only; entries are never deleted.")


class ControlledSubstanceEntry(models.Model):
    """One line of the controlled-substance register: what was given to whom, by whom.
    A correction is a new line pointing at the one it corrects, with a reason."""

    SUBSTANCE = "Ketamine"

    administration = models.ForeignKey(Administration, on_delete=models.PROTECT, related_name="log_entries")
    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    substance = models.CharField(max_length=60, default=SUBSTANCE)
    route = models.CharField(max_length=20, choices=Route.choices)
    total_mg = models.DecimalField(max_digits=7, decimal_places=2)
    lot_number = models.CharField(max_length=60)
    administered_at = models.DateTimeField()
    given_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(db_index=True)
    corrects = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections")
    reason = models.TextField(blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["recorded_at", "pk"]
        verbose_name = "controlled-substance entry"
        verbose_name_plural = "controlled-substance log"
        indexes = [models.Index(fields=["site", "administered_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(corrects__isnull=True) | ~Q(reason=""), name="cs_entry_correction_has_reason"
            ),
            models.CheckConstraint(condition=Q(total_mg__gt=0), name="cs_entry_amount_positive"),
        ]

    def __str__(self) -> str:
        kind = "Correction" if self.corrects_id else "Entry"
        return f"{kind} #{self.pk}: {self.total_mg} mg {self.substance}, lot {self.lot_number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise AppendOnlyError("The controlled-substance log is append-only; record a correction instead.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The controlled-substance log is append-only; entries are never deleted.")
