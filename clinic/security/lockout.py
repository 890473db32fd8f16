"""What a locked-out client sees (django-axes' AXES_LOCKOUT_CALLABLE): the API's error shape
under /api/, a page everywhere else; both 429 with Retry-After."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from clinic.api_errors import error_body

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
