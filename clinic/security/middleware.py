"""Middleware for the security rules that apply to every response."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    """Every dynamic answer (page, API, reminder link, calendar feed) may carry health data, so no
    browser, proxy or shared computer keeps a copy. Static files never reach here (WhiteNoise
    answers them first) and keep their long cache."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "no-store" not in response.get("Cache-Control", ""):
            patch_cache_control(response, no_store=True, private=True)
        return response
