"""Second factor (TOTP, django-otp): who must have one, and checking a code."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice


def confirmed_device(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def second_factor_required(user: AbstractBaseUser) -> bool:
    """The clinic turns the second factor on for roles (REQUIRE_2FA_ROLES), typically prescribers
    and clinic administrators, who can order or configure controlled-substance treatment. A
    superuser, who can do all of that and more, needs it whenever any role does, with or without
    a staff row."""
    if not settings.REQUIRE_2FA_ROLES or not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    staff = getattr(user, "staff", None)
    return staff is not None and staff.active and staff.role in settings.REQUIRE_2FA_ROLES


def code_verify(*, device: TOTPDevice, code: str) -> bool:
    """django-otp refuses a replayed code and slows down repeated wrong ones on the device. The
    device's row is locked and read again first (to the end of the caller's transaction): two
    requests sending the same code at once would otherwise both read the code as unused, and both
    sign in with it."""
    code = (code or "").strip().replace(" ", "")
    if not (code and code.isascii() and code.isdigit()):
        return False
    with transaction.atomic():
        locked = type(device).objects.select_for_update().filter(pk=device.pk, confirmed=device.confirmed).first()
        if locked is None:  # removed (a lost phone) since it was read: no code of it holds
            return False
        accepted = locked.verify_token(code)
    for field in ("last_t", "drift", "throttling_failure_count", "throttling_failure_timestamp"):
        setattr(device, field, getattr(locked, field))
    return bool(accepted)
