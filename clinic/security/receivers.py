"""Signal receivers: a password change (password sign-in turned off among them), a change of role
or a deactivation (of the login or the staff row) revokes every API token the user holds; signing
in starts the idle clock."""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model, user_logged_in
from django.contrib.auth.hashers import get_hasher, identify_hasher, is_password_usable
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
    instance._clinic_password_changed = False
    if raw or instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is None or stored == instance.password:
        return
    instance._clinic_password_changed = getattr(instance, "_password", None) is not None or not _same_password_rehashed(
        stored, instance.password
    )


def _same_password_rehashed(stored: str, new: str) -> bool:
    """Whether `new` may be Django re-hashing the password of `stored` at sign-in (check_password's
    setter: "Password hash upgrades shouldn't be considered password changes"). That setter clears
    the raw password `set_password` keeps, so it is told by the hashes: Django re-hashes only a usable
    hash its preferred hasher would not write today (another hasher, fewer iterations), and only
    with the preferred hasher. Any other new hash is a change: password sign-in turned off
    (`set_unusable_password`, the admin's "Disabled"), or a hash written in place of a current one."""
    if not (is_password_usable(stored) and is_password_usable(new)):
        return not is_password_usable(stored) and not is_password_usable(new)  # no password either way
    try:
        stored_hasher, new_hasher = identify_hasher(stored), identify_hasher(new)
    except ValueError:  # a hash no configured hasher reads: not Django's upgrade
        return False
    preferred = get_hasher("default")
    if new_hasher.algorithm != preferred.algorithm:
        return False
    return stored_hasher.algorithm != preferred.algorithm or preferred.must_update(stored)


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
