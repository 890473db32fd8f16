"""The HL7 v2 SIU feed's tables: each site's receiver and the outbox of messages for it.

An outbox row is written in the same transaction as the booking, move, change, cancellation or
no-show it reports (interop.siu.receivers), so a rolled-back change leaves no message and a
committed one always has its message (the app label is `interop`; interop/models.py imports
these). Delivery (interop.siu.delivery) sends them in order per
appointment and records the receiver's acknowledgement."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from clinic.models import Site
from scheduling.models import Appointment


class SiuReceiver(models.Model):
    """Where a site's SIU messages go: an MLLP listener of the clinic's EHR or interface engine.

    No enabled receiver for a site means its feed is off: nothing is queued for it."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="siu_receiver")
    enabled = models.BooleanField(default=True)
    host = models.CharField(max_length=255, help_text="The MLLP listener's host name or IP address.")
    port = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(65535)])
    sending_application = models.CharField(max_length=60, default="KETAMINE-SCHED", help_text="MSH-3.")
    sending_facility = models.CharField(max_length=60, blank=True, help_text="MSH-4; blank means the site's name.")
    receiving_application = models.CharField(max_length=60, blank=True, help_text="MSH-5.")
    receiving_facility = models.CharField(max_length=60, blank=True, help_text="MSH-6.")
    mrn_assigning_authority = models.CharField(
        max_length=60, default="KETAMINE", help_text="PID-3.4: the authority that assigned the patient's MRN."
    )
    ack_timeout_seconds = models.FloatField(
        default=10.0,
        validators=[MinValueValidator(0.05), MaxValueValidator(120)],
        help_text="How long to wait for the connection and for each ACK before trying again later.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SIU receiver"
        constraints = [
            models.CheckConstraint(condition=Q(port__gte=1, port__lte=65535), name="siureceiver_port_in_range"),
            models.CheckConstraint(condition=Q(ack_timeout_seconds__gt=0), name="siureceiver_ack_timeout_positive"),
        ]

    def __str__(self) -> str:
        state = "" if self.enabled else " (off)"
        return f"{self.site.name} → {self.host}:{self.port}{state}"


class SiuEvent(models.TextChoices):
    NEW = "S12", "S12 new booking"
    RESCHEDULED = "S13", "S13 rescheduled"
    MODIFIED = "S14", "S14 modified"
    CANCELLED = "S15", "S15 cancelled"
    NO_SHOW = "S26", "S26 no-show"


class SiuStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent (acknowledged)"
    PARKED = "parked", "Parked (kept failing)"


def new_control_id() -> str:
    return uuid.uuid4().hex[:20]


class SiuMessage(models.Model):
    """One SIU message in the outbox. Messages of one appointment go out in `sequence` order; a
    pending or parked message holds back every later one of its appointment, so a receiver never
    learns of a cancellation before the booking. The control id (MSH-10) is fixed when the row is
    written, so a message sent again after a lost ACK carries the same id and a receiver can drop
    the duplicate."""

    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="siu_messages")
    receiver = models.ForeignKey(SiuReceiver, on_delete=models.PROTECT, related_name="messages")
    event = models.CharField(max_length=3, choices=SiuEvent.choices)
    sequence = models.PositiveIntegerField(help_text="Order among the appointment's messages, from 1.")
    control_id = models.CharField(max_length=20, unique=True, default=new_control_id, editable=False)
    payload = models.TextField(help_text="The message in ER7 (pipe-delimited) form, segments ended by CR.")
    status = models.CharField(max_length=8, choices=SiuStatus.choices, default=SiuStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text="When delivery may next try it.")
    last_error = models.TextField(blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    disclosed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the receiver first acknowledged it (AA), so the disclosure was logged: once per message.",
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "SIU message"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="siumessage_due_idx")]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "sequence"], name="siumessage_one_sequence_per_appointment"),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(acked_at__isnull=False), name="siumessage_sent_has_ack_time"
            ),
            # Recorded as sent only with its disclosure (delivery._record writes both at once).
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(disclosed_at__isnull=False), name="siumessage_sent_was_disclosed"
            ),
        ]

    def __str__(self) -> str:
        return f"SIU^{self.event} #{self.sequence} for appointment {self.appointment_id} ({self.status})"
