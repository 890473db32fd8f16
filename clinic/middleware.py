"""Access log: who looked at or changed what, from where, and the answer they got.

Every request by a signed-in user (pages and API alike) leaves one row, and so does
every request to a view marked `log_anonymous_access` (the patient's calendar feed and
reminder links, whose secret token stands in for a login) or that showed a patient.
Static files and health checks are not logged. The row is written by clinic.audit.

A write to the API runs in one transaction with its log row, so a booking costs
one commit; if the request's work is rolled back (an error answer), the row is
written on its own afterwards. Reads keep their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from clinic import audit
from clinic.security.signals import ACCESS_LOG_PATH_ATTRIBUTE

# The parts of a view's address that are a secret (a patient's link token, a password reset's):
# the log row names them "[token]". Set here, before the view runs, so that a request the view
# refuses before its body (a HEAD from a mail scanner answered 405) does not log the secret either.
SECRET_URL_PARTS = ("token", "uidb64")

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
            if response.status_code >= 500:
                # An unexpected error became a 500 answer below this point without passing an atomic
                # block of the view's (a view outside ClinicAPIMixin): its partial writes must not commit.
                transaction.set_rollback(True)
            logged = not transaction.get_rollback()
            if logged:
                self._log(request, response)
        if not logged:
            self._log(request, response)
        return response

    def _log(self, request: HttpRequest, response: HttpResponse) -> None:
        if not request.path.startswith(_SKIP_PREFIXES) and audit.should_log(request):
            audit.access_log_write(request=request, status_code=response.status_code)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> None:
        if getattr(view_func, audit.ANONYMOUS_ATTRIBUTE, False):
            setattr(request, audit.ANONYMOUS_ATTRIBUTE, True)
        secrets = [str(view_kwargs[name]) for name in SECRET_URL_PARTS if view_kwargs.get(name)]
        if secrets:
            setattr(request, ACCESS_LOG_PATH_ATTRIBUTE, path_without_secrets(request.path, secrets))


def path_without_secrets(path: str, secrets: list[str]) -> str:
    """`path` with each secret's own place named "[token]". The secrets stand last in the address
    (`…/<uidb64>/<token>/`, `/calendar/<token>.ics`), the token after the uidb64, so each is
    replaced at its last occurrence before the one replaced already: a token that also spells a
    piece of the address (`/r/cancel/c/`) leaves the rest of it readable."""
    tail = ""
    for secret in secrets:  # in SECRET_URL_PARTS order: the one nearest the end first
        head, found, rest = path.rpartition(secret)
        if found:
            path, tail = head, f"[token]{rest}{tail}"
    return path + tail
