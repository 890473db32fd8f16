"""Sign-in pages: password then (for users with an authenticator) the code, the account page with
API tokens, and second-factor enrolment."""

from __future__ import annotations

import base64
import logging
import time

import segno
from axes.handlers.proxy import AxesProxyHandler
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, user_login_failed
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import (
    LoginView,
    PasswordChangeView,
    PasswordResetConfirmView,
    PasswordResetView,
    redirect_to_login,
)
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from knox.models import AuthToken

from clinic.security.authentication import client_ip
from clinic.security.forms import ChangePasswordForm, NewPasswordForm, ResetLinkForm, SignInForm
from clinic.security.lockout import lockout_response
from clinic.security.password_reset import (
    RESET_WINDOW_SECONDS,
    client_may_ask,
    confirmable,
    login_may_be_mailed,
    reset_recipients,
    reset_token_generator,
)
from clinic.security.services import token_revoke, tokens_revoke_all, totp_device_confirm, totp_device_start
from clinic.security.signals import ACCESS_LOG_USERNAME_ATTRIBUTE
from clinic.security.two_factor import code_verify, confirmed_device, second_factor_required

log = logging.getLogger(__name__)

PENDING_USER = "_security_pending_user"
PENDING_BACKEND = "_security_pending_backend"
PENDING_NEXT = "_security_pending_next"
PENDING_SINCE = "_security_pending_since"
PENDING_MAX_AGE_SECONDS = 300


class ClinicLoginView(LoginView):
    """Django's login, except that a user with an authenticator is only signed in after the code."""

    redirect_authenticated_user = True
    form_class = SignInForm

    def form_valid(self, form):
        user = form.get_user()
        if confirmed_device(user) is None:
            return super().form_valid(form)
        self.request.session[PENDING_USER] = user.pk
        self.request.session[PENDING_BACKEND] = user.backend
        self.request.session[PENDING_NEXT] = self.get_success_url()
        self.request.session[PENDING_SINCE] = time.time()
        return redirect("login-code")


def _pending_user(request: HttpRequest):
    since = request.session.get(PENDING_SINCE)
    if since is None or time.time() - since > PENDING_MAX_AGE_SECONDS:
        return None
    return get_user_model().objects.filter(pk=request.session.get(PENDING_USER), is_active=True).first()


def login_code(request: HttpRequest) -> HttpResponse:
    """Second step of sign-in: the six-digit code. A wrong code counts as a failed sign-in."""
    user = _pending_user(request)
    device = confirmed_device(user) if user is not None else None
    if device is None:
        return redirect("login")
    error = ""
    if request.method == "POST":
        # The lockout holds here too: a sign-in locked out by wrong codes is not completed by a right one.
        if AxesProxyHandler.is_locked(request, {"username": user.get_username()}):
            return lockout_response(request)
        if code_verify(device=device, code=request.POST.get("code", "")):
            backend = request.session[PENDING_BACKEND]
            next_url = request.session.get(PENDING_NEXT) or settings.LOGIN_REDIRECT_URL
            for key in (PENDING_USER, PENDING_BACKEND, PENDING_NEXT, PENDING_SINCE):
                request.session.pop(key, None)
            login(request, user, backend=backend)
            otp_login(request, device)
            return redirect(next_url)
        user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
        error = "That code is not valid. Codes change every 30 seconds; enter the one showing now."
    return render(request, "registration/login_code.html", {"error": error})


@login_required
def account(request: HttpRequest) -> HttpResponse:
    tokens = AuthToken.objects.filter(user=request.user).order_by("-created")
    context = {
        "tokens": tokens,
        "device": confirmed_device(request.user),
        "second_factor_required": second_factor_required(request.user),
    }
    return render(request, "registration/account.html", context)


class ClinicPasswordChangeView(PasswordChangeView):
    """The signed-in user changes their own password: the current one, then the new one twice,
    under the site's password rules. The session stays signed in; a changed password revokes the
    user's API tokens (clinic.security.receivers). A wrong current password counts as a failed
    sign-in, so a borrowed session cannot guess it past the lockout."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("account")
    form_class = ChangePasswordForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        # What a password manager should fill in each box.
        context["fields"] = [
            (form["old_password"], "current-password"),
            (form["new_password1"], "new-password"),
            (form["new_password2"], "new-password"),
        ]
        return context

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and AxesProxyHandler.is_locked(
            request, {"username": request.user.get_username()}
        ):
            return lockout_response(request)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        had_tokens = AuthToken.objects.filter(user=self.request.user).exists()
        response = super().form_valid(form)
        # The right current password is a successful sign-in for the lockout: the failures this page
        # counted are cleared, as a sign-in clears them (AXES_RESET_ON_SUCCESS).
        AxesProxyHandler.user_logged_in(sender=__name__, request=self.request, user=self.request.user)
        said = "Your password was changed."
        if had_tokens:
            said += " Your API tokens were revoked with the old password: sign in again in the programs that used them."
        messages.success(self.request, said)
        return response

    def form_invalid(self, form):
        # Only a wrong current password is a failed sign-in; an empty box is just an unfinished form.
        if form.has_error("old_password", code="password_incorrect"):
            user_login_failed.send(
                sender=__name__, credentials={"username": self.request.user.get_username()}, request=self.request
            )
            if AxesProxyHandler.is_locked(self.request, {"username": self.request.user.get_username()}):
                return lockout_response(self.request)
        return super().form_invalid(form)


class ClinicPasswordResetView(PasswordResetView):
    """Ask for a reset link by email (clinic.security.password_reset): the answer is the same page
    whether or not an account uses the address; the mail goes from a Celery task."""

    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("password-reset-sent")
    form_class = ResetLinkForm

    def form_valid(self, form):
        from clinic.security.tasks import password_reset_send

        if not client_may_ask(client_ip(self.request)):
            response = render(
                self.request,
                "registration/password_reset_limited.html",
                {"minutes": RESET_WINDOW_SECONDS // 60},
                status=429,
            )
            response["Retry-After"] = str(RESET_WINDOW_SECONDS)
            return response
        recipients = [pair for pair in reset_recipients(form.cleaned_data["email"]) if login_may_be_mailed(pair[0])]
        try:
            password_reset_send.delay(recipients)
        except Exception:  # the broker is down: say so, whatever the address (nothing about accounts)
            log.exception("Password reset: the task could not be queued")
            form.add_error(None, "The email could not be sent just now. Please try again in a few minutes.")
            return self.form_invalid(form)
        return HttpResponseRedirect(self.get_success_url())


class ClinicPasswordResetConfirmView(PasswordResetConfirmView):
    """The link's page: a new password under the site's rules, for a login that may still be reset
    (active, with a usable password). Setting it revokes the user's API tokens
    (clinic.security.receivers) and signs out their other sessions (Django's session hash);
    proving the mailbox clears the lockout's failures for the login. The access log names the
    login whose password was set, and never records the link's token."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-complete")
    form_class = NewPasswordForm
    token_generator = reset_token_generator  # bound to the address the link went to

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if confirmable(user) else None

    def form_valid(self, form):
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        setattr(self.request, ACCESS_LOG_USERNAME_ATTRIBUTE, form.user.get_username())
        return response


@login_required
@require_POST
def token_revoke_view(request: HttpRequest) -> HttpResponse:
    token = AuthToken.objects.filter(user=request.user, digest=request.POST.get("token", "")).first()
    if token is None:
        raise Http404("No such token.")
    token_revoke(token=token)
    messages.success(request, "The API token was revoked.")
    return redirect("account")


@login_required
@require_POST
def tokens_revoke_all_view(request: HttpRequest) -> HttpResponse:
    count = tokens_revoke_all(user=request.user)
    messages.success(request, f"{count} API token{'s' if count != 1 else ''} revoked.")
    return redirect("account")


@login_required
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    """Shows the secret and its QR code; a correct code from the app confirms the device."""
    if confirmed_device(request.user) is not None:
        # Replacing a working authenticator is an administrator's job (Django admin, OTP devices),
        # so a borrowed signed-in session cannot swap in the borrower's phone.
        return render(request, "registration/two_factor_enrol.html", {"enrolled": True})
    device = totp_device_start(user=request.user)
    error = ""
    if request.method == "POST":
        if totp_device_confirm(device=device, code=request.POST.get("code", "")):
            device.refresh_from_db()
            otp_login(request, device)
            messages.success(request, "Your authenticator app is set up; sign-in will ask for its code.")
            return redirect("account")
        error = "That code is not valid. Check the time on your phone and enter the code showing now."
    secret = device.bin_key
    context = {
        "enrolled": False,
        "error": error,
        "required": second_factor_required(request.user),
        "secret": _base32(secret),
        "qr_svg": segno.make(device.config_url, error="m").svg_inline(scale=4, title="Authenticator set-up code"),
    }
    return render(request, "registration/two_factor_enrol.html", context)


def _base32(key: bytes) -> str:
    text = base64.b32encode(key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def admin_has_permission(request: HttpRequest) -> bool:
    """Who may use the Django admin (the clinic set-up pages): superusers, and active staff marked
    clinic-wide (`all_sites`) with admin access. The admin shows every site's rows, so a staff
    member bound to some sites configures those through the API, which is scoped to them."""
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    staff = getattr(user, "staff", None)
    return bool(staff is not None and staff.active and staff.all_sites)


def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The Django admin's login sends people to the clinic's sign-in (lockout and second factor
    apply there); a signed-in person without admin rights is told so rather than looped."""
    if request.user.is_authenticated:
        raise PermissionDenied("Your account cannot use the clinic set-up pages.")
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    return redirect_to_login(next_url or reverse("admin:index"))
