"""Responses are read-only here: they are what the patient answered, entered through the
portal or the API, and a wrong one is entered again rather than edited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from clinic.admin_edits import ConcurrentEditAdminMixin
from clinic.admin_history import HistoryAdmin
from clinic.admin_visibility import ClinicalAdminMixin
from measures.models import QuestionnaireResponse


@admin.register(QuestionnaireResponse)
class QuestionnaireResponseAdmin(ConcurrentEditAdminMixin, ClinicalAdminMixin, HistoryAdmin):
    clinical_model = True  # what the patient answered about their mood
    list_display = ["patient", "instrument", "total_score", "severity", "completed_at", "source"]
    list_filter = ["instrument", "severity", "source"]
    search_fields = ["patient__last_name", "patient__first_name"]
    date_hierarchy = "completed_at"
    list_select_related = ["patient"]
    readonly_fields = [
        "patient",
        "instrument",
        "answers",
        "total_score",
        "severity",
        "flags",
        "appointment",
        "completed_at",
        "entered_by",
        "source",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
