"""The SIU feed in the admin: each site's receiver, and the outbox with its parked messages."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.admin_edits import ConcurrentEditAdminMixin
from clinic.audit import PatientsShownAdminMixin
from interop.siu.delivery import siu_requeue
from interop.siu.models import SiuMessage, SiuReceiver


@admin.register(SiuReceiver)
class SiuReceiverAdmin(ConcurrentEditAdminMixin, admin.ModelAdmin):
    list_display = ("site", "host", "port", "enabled", "sending_application", "receiving_application")
    list_filter = ("enabled",)
    list_select_related = ("site",)


@admin.register(SiuMessage)
class SiuMessageAdmin(PatientsShownAdminMixin, admin.ModelAdmin):
    # The payload names the patient (PID: name, date of birth, MRN): the access log says whose.
    patient_path = "appointment__patient_id"
    list_display = (
        "control_id",
        "event",
        "appointment_id",
        "sequence",
        "status",
        "attempts",
        "next_attempt_at",
        "acked_at",
        "disclosed_at",
    )
    list_filter = ("status", "event", "receiver")
    search_fields = ("control_id", "=appointment__id")
    actions = ("requeue",)
    readonly_fields = [f.name for f in SiuMessage._meta.fields]
    list_select_related = ("receiver__site",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # messages are written by scheduling changes, never by hand

    def has_delete_permission(self, request: HttpRequest, obj: SiuMessage | None = None) -> bool:
        return False  # the outbox is the record of what the EHR was told

    def has_change_permission(self, request: HttpRequest, obj: SiuMessage | None = None) -> bool:
        return False  # viewing only; re-queueing is the action below

    def has_requeue_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("interop.change_siumessage")

    @admin.action(description="Re-queue the selected parked messages", permissions=["requeue"])
    def requeue(self, request: HttpRequest, queryset: QuerySet[SiuMessage]) -> None:
        count = siu_requeue(message_ids=queryset.values_list("pk", flat=True), now=timezone.now())
        self.message_user(request, f"{count} parked message(s) re-queued.", messages.SUCCESS)
