"""Middleware for the security rules that apply to every response."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.cache import patch_cache_control

from clinic.api_errors import error_body
from clinic.security.two_factor import confirmed_device, second_factor_required


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


# Session keys. The activity stamp is rewritten at most once a minute, so reading pages does not
# turn every request into a session write.
LAST_ACTIVITY = "_security_last_activity"
IDLE_LIMIT = "_security_idle_limit"
_STAMP_EVERY_SECONDS = 60


def _has_patient_row(user) -> bool:
    """A portal account: the patients app's one-to-one row (reached by its relation, not its import)."""
    try:
        user.patient  # noqa: B018 - the reverse one-to-one raises when there is no row
    except ObjectDoesNotExist:
        return False
    return True


def _idle_limit_seconds(user) -> int:
    staff = getattr(user, "staff", None)
    limit = settings.SESSION_IDLE_TIMEOUT_STAFF
    if staff is None and not user.is_staff and _has_patient_row(user):
        limit = settings.SESSION_IDLE_TIMEOUT_PATIENT
    return int(limit.total_seconds())


def start_idle_clock(*, session, user, now: float) -> int:
    limit = _idle_limit_seconds(user)
    session[IDLE_LIMIT] = limit
    session[LAST_ACTIVITY] = now
    session.set_expiry(limit)
    return limit


class IdleTimeoutMiddleware:
    """Signs a person out after a stretch without requests: staff after SESSION_IDLE_MINUTES_STAFF
    (a workstation left unlocked on the ward), patients after SESSION_IDLE_MINUTES_PATIENT. The
    request then goes on anonymously, so a page answers with the login redirect."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            now = time.time()
            limit = session.get(IDLE_LIMIT)
            last = session.get(LAST_ACTIVITY)
            if limit is None:  # a session from before the idle timeout existed
                limit = start_idle_clock(session=session, user=request.user, now=now)
            elif last is not None and now - last > limit:
                logout(request)
                messages.info(request, f"You were signed out after {limit // 60} minutes without activity.")
            elif (last is None or now - last >= _STAMP_EVERY_SECONDS) and not _background(request):
                session[LAST_ACTIVITY] = now
                session.set_expiry(limit)
        return self.get_response(request)


def _background(request: HttpRequest) -> bool:
    """A page refreshing itself (the day board, every minute) is not someone at the keyboard: it
    must not keep an unattended workstation signed in."""
    return request.headers.get("X-Background-Refresh") == "1"


_SECOND_FACTOR_EXEMPT = ("/login/", "/logout/", "/account/two-factor/", "/static/", "/health/")


class SecondFactorRequiredMiddleware:
    """When the clinic requires a second factor for a role (REQUIRE_2FA_ROLES), a signed-in member
    of that role without a verified code this session gets nothing but the enrolment page (or, with
    a device already enrolled, the code page)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            settings.REQUIRE_2FA_ROLES
            and user.is_authenticated
            and not user.is_verified()
            and not request.path.startswith(_SECOND_FACTOR_EXEMPT)
            and second_factor_required(user)
        ):
            enrolled = confirmed_device(user) is not None
            if request.path.startswith("/api/"):
                return JsonResponse(
                    error_body(
                        "second_factor_required",
                        "Your role requires a second factor: sign in on the web with your code.",
                    ),
                    status=403,
                )
            if enrolled:
                logout(request)
                return redirect_to_login(request.get_full_path())
            return redirect("two-factor-enrol")
        return self.get_response(request)
