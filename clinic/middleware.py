"""Access log: who looked at or changed what, and the answer they got.

Patient data is health data, so every request by a signed-in user (pages and
API alike) leaves one row. Static files and health checks are not logged."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from clinic.models import AccessLog

_SKIP_PREFIXES = ("/static/", "/health/", "/favicon")


class AccessLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith(_SKIP_PREFIXES):
            AccessLog.objects.create(
                user=user, method=request.method or "", path=request.get_full_path()[:500], status_code=response.status_code
            )
        return response
