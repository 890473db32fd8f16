"""Minimum necessary in the Django admin: a user without a clinical duty (a clinic administrator,
the front desk, a superuser with no clinical role) sees no clinical field there, as the API and
the pages show them none (clinic.permissions.FIELD_READERS). Their admin is the clinic's set-up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from clinic.audit import PatientsShownAdminMixin
from clinic.permissions import CLINICIANS, hidden_fields


def admin_role(request: HttpRequest) -> str | None:
    staff = getattr(request.user, "staff", None)
    return staff.role if staff is not None and staff.active else None


def has_clinical_duty(request: HttpRequest) -> bool:
    return admin_role(request) in CLINICIANS


class ClinicalAdminMixin(PatientsShownAdminMixin):
    """For a ModelAdmin (or inline). `clinical_model`: every field is clinical, so the model is
    hidden from users without a clinical duty; `visibility_kind`: the FIELD_READERS entry whose
    hidden fields are left out of the forms, lists, filters and searches; `clinical_inlines`:
    inlines shown only to clinicians. The change history is refused to them on such models: its
    old values and change reasons carry the same clinical text. The patients a page shows are
    named in the access log (PatientsShownAdminMixin)."""

    clinical_model: bool = False
    visibility_kind: str = ""
    clinical_inlines: Sequence[type] = ()

    def _hidden(self, request: HttpRequest) -> frozenset[str]:
        if not self.visibility_kind:
            return frozenset()
        return hidden_fields(admin_role(request), self.visibility_kind)

    def _refused(self, request: HttpRequest) -> bool:
        return self.clinical_model and not has_clinical_duty(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return not self._refused(request) and super().has_module_permission(request)  # type: ignore[misc]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._refused(request) and super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not self._refused(request) and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._refused(request) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._refused(request) and super().has_delete_permission(request, obj)  # type: ignore[misc]

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type]:
        inlines = super().get_inlines(request, obj)  # type: ignore[misc]
        if has_clinical_duty(request):
            return inlines
        return [inline for inline in inlines if inline not in self.clinical_inlines]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        hidden = self._hidden(request)
        if not hidden:
            return fieldsets
        kept = []
        for name, options in fieldsets:
            fields = [_without(line, hidden) for line in options.get("fields", ())]
            fields = [line for line in fields if line]
            if fields:
                kept.append((name, {**options, "fields": fields}))
        return kept

    def get_list_display(self, request: HttpRequest) -> Sequence[Any]:
        hidden = self._hidden(request)
        return [name for name in super().get_list_display(request) if name not in hidden]  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Sequence[Any]:
        hidden = self._hidden(request)
        return [name for name in super().get_list_filter(request) if name not in hidden]  # type: ignore[misc]

    def get_search_fields(self, request: HttpRequest) -> Sequence[str]:
        hidden = self._hidden(request)
        return [name for name in super().get_search_fields(request) if name.split("__")[0] not in hidden]  # type: ignore[misc]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # The admin takes a filter on any of the model's own fields from the query string
        # (?medications__icontains=…): its count would tell what a hidden field holds.
        if lookup.split("__")[0] in self._hidden(request):
            return False
        return super().lookup_allowed(lookup, value, request)  # type: ignore[misc]

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None):
        if self._hidden(request) or self._refused(request):
            raise PermissionDenied("The change history holds clinical details.")
        return super().history_view(request, object_id, extra_context)  # type: ignore[misc]

    def history_form_view(self, request: HttpRequest, object_id: str, version_id: str, extra_context=None):
        if self._hidden(request) or self._refused(request):
            raise PermissionDenied("The change history holds clinical details.")
        return super().history_form_view(request, object_id, version_id, extra_context)  # type: ignore[misc]


def _without(line: Any, hidden: frozenset[str]) -> Any:
    """One fieldset line (a name or a tuple of names shown side by side) without the hidden names."""
    if isinstance(line, list | tuple):
        kept = tuple(name for name in line if name not in hidden)
        return kept if len(kept) > 1 else (kept[0] if kept else None)
    return None if line in hidden else line
