"""Access log: who looked at or changed what, and the answer they got.

Patient data is health data, so every request by a signed-in user (pages and
API alike) leaves one row. Static files and health checks are not logged.

A write to the API runs in one transaction with its log row, so a booking costs
one commit; if the request's work is rolled back (an error answer), the row is
written on its own afterwards. Reads keep their own (the schema needs no database)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from clinic.models import AccessLog

_SKIP_PREFIXES = ("/static/", "/health/", "/favicon")
_ONE_TRANSACTION_PREFIX = "/api/"
_READS = ("GET", "HEAD", "OPTIONS")


class AccessLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in _READS or not request.path.startswith(_ONE_TRANSACTION_PREFIX):
            response = self.get_response(request)
            self._log(request, response)
            return response
        with transaction.atomic():
            request.in_request_transaction = True  # the API view needs no savepoint of its own
            response = self.get_response(request)
            logged = not transaction.get_rollback()
            if logged:
                self._log(request, response)
        if not logged:
            self._log(request, response)
        return response

    def _log(self, request: HttpRequest, response: HttpResponse) -> None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith(_SKIP_PREFIXES):
            AccessLog.objects.create(
                user=user, method=request.method or "", path=request.get_full_path()[:500], status_code=response.status_code
            )
