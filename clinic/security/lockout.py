"""django-axes' extension points: what a locked-out client sees (AXES_LOCKOUT_CALLABLE: the API's
error shape under /api/, a page everywhere else; both 429 with Retry-After), and the text of a
failed attempt as axes keeps it (AXES_HANDLER, AXES_USERNAME_CALLABLE)."""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from clinic.api_errors import error_body
from clinic.validators import without_control_characters

MESSAGE = "Too many failed sign-in attempts; try again later."


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    wait = int(settings.AUTH_COOLOFF.total_seconds())
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("throttled", MESSAGE, details={"retry_after_seconds": wait}), status=429)
    else:
        context = {"minutes": wait // 60}
        response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response


# The request attributes axes copies from headers and the path (AxesProxyHandler.update_request)
# and writes into its failed-attempt rows.
_CLIENT_TEXT_ATTRIBUTES = ("axes_user_agent", "axes_http_accept", "axes_path_info")


def _client_text_cleaned(request: HttpRequest | None) -> None:
    for attribute in _CLIENT_TEXT_ATTRIBUTES:
        text = getattr(request, attribute, None)
        if isinstance(text, str):
            setattr(request, attribute, without_control_characters(text))


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler (AXES_HANDLER), with the user agent, Accept header and path it keeps
    cleaned of control characters first. Anyone can send a NUL there, and PostgreSQL refuses it in
    text: the failed attempt would be a 500 instead of the login's answer, and never counted, so a
    guesser could try passwords without being locked out (the 500 itself saying "wrong password")."""

    def user_login_failed(self, sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
        _client_text_cleaned(request)
        super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        _client_text_cleaned(request)
        super().user_logged_in(sender, request, user, **kwargs)

    def user_logged_out(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        _client_text_cleaned(request)
        super().user_logged_out(sender, request, user, **kwargs)


def lockout_username(request: Any, credentials: dict | None = None) -> str | None:
    """django-axes' AXES_USERNAME_CALLABLE: the username tried, found where axes looks for it
    (the credentials, else the form or the API body), with control characters replaced as the
    access log has them, so the attempt is counted and kept under the same name."""
    field = settings.AXES_USERNAME_FORM_FIELD
    sent = credentials if credentials else getattr(request, "data", request.POST)
    username = sent.get(field)
    return without_control_characters(username) if isinstance(username, str) else username
