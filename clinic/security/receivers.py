"""Signal receivers: a password change, a change of role or a deactivation (of the login or the
staff row) revokes every API token the user holds; signing in starts the idle clock."""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model, user_logged_in
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from clinic.db import changed_on_save
from clinic.models import StaffMember
from clinic.security.middleware import start_idle_clock
from clinic.security.services import tokens_revoke_all

User = get_user_model()


@receiver(pre_save, sender=User, dispatch_uid="clinic_security_note_password_change")
def _note_password_change(
    sender: Any, instance: Any, update_fields: Any = None, raw: bool = False, **kwargs: Any
) -> None:
    # Only a password set (set_password keeps the raw one in `_password` until the save): Django
    # re-hashing the same password at sign-in (a new hasher, more iterations) clears `_password`
    # first, and is no change ("Password hash upgrades shouldn't be considered password changes").
    instance._clinic_password_changed = getattr(instance, "_password", None) is not None and changed_on_save(
        sender, instance, "password", update_fields, raw
    )


@receiver(post_save, sender=User, dispatch_uid="clinic_security_revoke_tokens_on_password_change")
def _revoke_tokens_on_password_change(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    # A stolen token must not outlive the password change made because of the theft.
    if getattr(instance, "_clinic_password_changed", False):
        tokens_revoke_all(user=instance)


@receiver(pre_save, sender=StaffMember, dispatch_uid="clinic_security_note_role_change")
def _note_role_change(sender: Any, instance: Any, update_fields: Any = None, raw: bool = False, **kwargs: Any) -> None:
    instance._clinic_role_changed = changed_on_save(sender, instance, "role", update_fields, raw)


@receiver(post_save, sender=StaffMember, dispatch_uid="clinic_security_revoke_tokens_on_role_change")
def _revoke_tokens_on_role_change(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    # A token was issued for the role it was asked under: signed in without a second factor, it
    # must not carry a role that requires one (REQUIRE_2FA_ROLES) until it expires.
    if getattr(instance, "_clinic_role_changed", False):
        tokens_revoke_all(user=instance.user)


def _deactivated_on_save(sender: Any, instance: Any, field: str, update_fields: Any, raw: bool) -> bool:
    return not getattr(instance, field) and changed_on_save(sender, instance, field, update_fields, raw)


@receiver(pre_save, sender=User, dispatch_uid="clinic_security_note_user_deactivation")
def _note_user_deactivation(
    sender: Any, instance: Any, update_fields: Any = None, raw: bool = False, **kwargs: Any
) -> None:
    instance._clinic_deactivated = _deactivated_on_save(sender, instance, "is_active", update_fields, raw)


@receiver(pre_save, sender=StaffMember, dispatch_uid="clinic_security_note_staff_deactivation")
def _note_staff_deactivation(
    sender: Any, instance: Any, update_fields: Any = None, raw: bool = False, **kwargs: Any
) -> None:
    instance._clinic_deactivated = _deactivated_on_save(sender, instance, "active", update_fields, raw)


@receiver(post_save, sender=User, dispatch_uid="clinic_security_revoke_tokens_on_user_deactivation")
@receiver(post_save, sender=StaffMember, dispatch_uid="clinic_security_revoke_tokens_on_staff_deactivation")
def _revoke_tokens_on_deactivation(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    # Refused while inactive anyway; revoked so that reactivating the account does not bring back
    # the tokens it held (a lost laptop's among them) for the rest of their lifetime.
    if getattr(instance, "_clinic_deactivated", False):
        tokens_revoke_all(user=instance if sender is User else instance.user)


@receiver(user_logged_in, dispatch_uid="clinic_security_start_idle_clock")
def _start_idle_clock(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # Done here, in the session write login makes anyway, so the first page costs nothing extra.
    session = getattr(request, "session", None)
    if session is not None:
        start_idle_clock(session=session, user=user, now=time.time())
