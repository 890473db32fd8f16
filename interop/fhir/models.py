"""The FHIR server's one table (the app label is `interop`; interop/models.py imports it).

Everything else the server answers is computed or read from the apps' own tables."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class FindReason(models.Model):
    """A reason given to Appointment/$find, kept so that a proposal held or booked by reference
    carries it (interop/fhir/find_reasons.py). A proposal's id is a signed token with no room for the
    reason itself, and a client booking by reference sends back only that id: the id names this row.

    One row per distinct reason and user, however many searches give it. No patient is named by a
    column, but the reason's free text may name one: a row is deleted once no proposal id in date
    can name it (find_reasons.find_reasons_purge)."""

    digest = models.CharField(
        max_length=64, unique=True, help_text="SHA-256 of the asking user's id and `concepts`' canonical JSON."
    )
    concepts = models.JSONField(help_text="The reason's CodeableConcepts as fhir.resources serialises them.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(
        default=timezone.now,
        db_index=True,
        help_text="When $find last gave out proposal ids naming this row; the purge counts from here.",
    )

    class Meta:
        verbose_name = "$find reason"

    def __str__(self) -> str:
        return f"$find reason {self.pk}"
