"""Writes for sign-in security: API tokens (django-rest-knox: hashed at rest, expiring) and the
second-factor (TOTP) device."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from clinic.security.two_factor import code_verify


class TokenLimitReached(Exception):
    """The user holds as many unexpired API tokens as one user may (API_TOKEN_LIMIT_PER_USER)."""


def token_issue(*, user: AbstractBaseUser) -> tuple[str, AuthToken]:
    """A new API token for `user`; the clear text is returned once and only its digest is stored.

    A user holds at most API_TOKEN_LIMIT_PER_USER unexpired tokens: a script that asks for a token
    on every run instead of keeping one, or a stolen password, cannot fill the table. At the limit
    nothing is revoked behind anyone's back (TokenLimitReached): the user revokes one they no
    longer use. Two requests at once take turns on the user's row, so neither passes the limit."""
    if not user.is_active:
        raise ValueError("An inactive user cannot be issued an API token.")
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        # The user's expired tokens go when a new one is issued (knox would otherwise look for
        # them on every authenticated request; see ClinicTokenAuthentication._cleanup_token).
        AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
        limit = settings.API_TOKEN_LIMIT_PER_USER
        if AuthToken.objects.filter(user=user).count() >= limit:
            raise TokenLimitReached(
                f"You hold {limit} API tokens that have not expired, the most one user may. Revoke one you no "
                "longer use (your Account page, or POST /api/v1/auth/logout/ with it) and ask again."
            )
        instance, clear_text = AuthToken.objects.create(user=user)
    return clear_text, instance


def token_revoke(*, token: AuthToken) -> None:
    with transaction.atomic():
        AuthToken.objects.filter(pk=token.pk).delete()


def tokens_revoke_all(*, user: AbstractBaseUser) -> int:
    """Revoke every API token `user` holds; returns how many there were."""
    with transaction.atomic():
        deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


def totp_device_start(*, user: AbstractBaseUser) -> TOTPDevice:
    """The user's unconfirmed authenticator being set up, created on first visit; the same secret is
    shown until it is confirmed, so reloading the page does not invalidate a scanned code."""
    with transaction.atomic():
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def totp_device_confirm(*, device: TOTPDevice, code: str) -> bool:
    """Confirm a device with a code it generated; from then on sign-in asks for a code. Any older
    device is replaced. Refuses an already-confirmed device (nothing to do) by returning False."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if device.confirmed or not code_verify(device=device, code=code):
            return False
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return True
