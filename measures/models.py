"""Questionnaire responses. A response is a record of what the patient answered: it is
written once through measures.services and never edited (a wrong entry is entered again;
the very same answers sent again within minutes are the same response, stored once)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from measures.scoring import FLAG_LABELS, SPECS, Instrument, spec_for
from patients.models import Patient
from scheduling.models import Appointment


class InstrumentChoice(models.TextChoices):
    PHQ9 = Instrument.PHQ9.value, "PHQ-9 (depression)"
    GAD7 = Instrument.GAD7.value, "GAD-7 (anxiety)"
    PCL5 = Instrument.PCL5.value, "PCL-5 (PTSD)"
    PAIN = Instrument.PAIN.value, "Pain (0–10)"


class Source(models.TextChoices):
    PORTAL = "portal", "Patient portal"
    STAFF = "staff", "Entered by staff"


def _total_in_range() -> Q:
    condition = Q()
    for instrument, spec in SPECS.items():
        condition |= Q(instrument=instrument.value, total_score__lte=spec.max_total)
    return condition


class QuestionnaireResponse(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="questionnaire_responses")
    instrument = models.CharField(max_length=8, choices=InstrumentChoice.choices)
    answers = models.JSONField(help_text="Item answers in questionnaire order.")
    total_score = models.PositiveSmallIntegerField()
    severity = models.CharField(max_length=20, help_text="Severity band code from measures.scoring.")
    flags = models.JSONField(default=list, blank=True, help_text="Items needing a clinician's attention.")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="questionnaire_responses"
    )
    completed_at = models.DateTimeField()
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=8, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()
    # Not stored: True on the earlier response that questionnaire_submit hands back when the same
    # answers were sent again (a double click, a second tab), so the page can say so.
    resent: bool = False

    class Meta:
        ordering = ["completed_at", "id"]
        indexes = [models.Index(fields=["patient", "instrument", "completed_at"], name="measure_patient_instr_time")]
        constraints = [
            models.CheckConstraint(
                condition=Q(instrument__in=InstrumentChoice.values), name="measure_known_instrument"
            ),
            models.CheckConstraint(condition=_total_in_range(), name="measure_total_within_instrument_range"),
        ]

    def __str__(self) -> str:
        return f"{self.patient} {self.get_instrument_display()} {self.total_score} on {self.completed_at:%Y-%m-%d}"

    @property
    def spec(self):
        return spec_for(self.instrument)

    @property
    def severity_label(self) -> str:
        return next((b.label for b in self.spec.bands if b.code == self.severity), self.severity)

    @property
    def flag_labels(self) -> list[str]:
        return [FLAG_LABELS.get(flag, flag) for flag in self.flags]
