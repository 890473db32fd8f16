"""The admin's change history, readable where the row is, revertible only where it may be changed.

django-simple-history's "Revert" page (history_form_view) checks only that the user may *view*
the history, then saves whatever its form posts: on a read-only admin (the session record, the
controlled-substance side of an administration) a user who may only read it could rewrite it,
every field editable, with no correction line in the log. Every history admin of the project is
a HistoryAdmin, which refuses that save without the permission to change the row's history (for
a read-only admin, never)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin


class HistoryAdmin(SimpleHistoryAdmin):
    def history_form_view(self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None):
        if request.method == "POST" and not self.has_change_history_permission(
            request, self.get_object(request, object_id)
        ):
            raise PermissionDenied("You may read this history, not revert the record to it.")
        return super().history_form_view(request, object_id, version_id, extra_context)
