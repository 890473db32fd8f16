"""Access log: who looked at or changed what, from where, and the answer they got.

Every request by a signed-in user (pages and API alike) leaves one row, and so does
every request to a view marked `log_anonymous_access` (the patient's calendar feed and
reminder links, whose secret token stands in for a login) or that showed a patient.
Static files and health checks are not logged. The row is written by clinic.audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from clinic import audit

_SKIP_PREFIXES = ("/static/", "/health/", "/favicon")


class AccessLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(_SKIP_PREFIXES) and audit.should_log(request):
            audit.access_log_write(request=request, status_code=response.status_code)
        return response

    def process_view(self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any) -> None:
        if getattr(view_func, audit.ANONYMOUS_ATTRIBUTE, False):
            setattr(request, audit.ANONYMOUS_ATTRIBUTE, True)
