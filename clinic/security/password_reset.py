"""Self-service password reset by email, for staff and patients.

Who an address reaches (`reset_recipients`):
- a login whose own email it is (compared without case, by the database);
- a patient's login that has no email of its own, through the contact email on the patient's
  chart, and only when the patient has confirmed that address from the portal
  (patients/email_confirmation.py), no other chart has it and the login is nobody's staff login:
  the front desk types that address, so it must not open a staff login, another patient's login, a
  login that has an address of its own, or a login whose patient never confirmed it.

The page hands the matched (login, which address) pairs to a Celery task, which mails each a
one-use link (Django's reset token, `reset_token_generator`: it lapses after PASSWORD_RESET_TIMEOUT,
and once the password, the last sign-in or the address it was mailed to changes; for a patient
reached through the chart, once the chart's confirmed contact email is no longer that address, so
the old mailbox cannot set the password after the desk corrects it). The page answers the same
whether or not an account matched and sends no mail itself, so neither its words nor its time say
whether an address is known. Links are counted per login and requests per client address
(RESET_LIMIT_*), so the page cannot flood a mailbox or probe addresses at speed. Links are built
on SITE_URL, never on the request's Host header, and go to the address on file, never to the one
typed (which may only match it by case folding). The broker carries login ids, not addresses."""

from __future__ import annotations

import hashlib
import logging
from typing import Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.cache import cache
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from clinic.security.authentication import client_counted_as
from clinic.security.two_factor import confirmed_device, second_factor_required
from clinic.validators import upper_by_letter

log = logging.getLogger(__name__)

# Per hour: links mailed to one login, and reset requests from one client address.
RESET_LIMIT_PER_LOGIN = 3
RESET_LIMIT_PER_CLIENT = 20
RESET_WINDOW_SECONDS = 3600

OWN: Literal["own"] = "own"  # the login's own email
CONTACT: Literal["contact"] = "contact"  # the contact email on the login's patient chart
Recipient = tuple[int, str]  # (login id, OWN or CONTACT): JSON for the broker


def _may_be_reset(user) -> bool:
    """Active, with a password, and not a login that must have a second factor but has none yet:
    its owner would enrol an authenticator after the reset, so the mailbox alone would open it (an
    administrator resets such a login)."""
    if not (user.is_active and user.has_usable_password()):
        return False
    return not (second_factor_required(user) and confirmed_device(user) is None)


def reset_recipients(email: str) -> list[Recipient]:
    """The logins `email` may reach (see the module's docstring), with the address each is sent to."""
    email = email.strip()
    if not email:
        return []
    users = get_user_model()._default_manager
    own = [(user.pk, OWN) for user in users.filter(email__iexact=email) if _may_be_reset(user)]
    if own:
        return sorted(own)
    charts = get_user_model()._meta.get_field("patient").related_model._default_manager
    if charts.filter(email__iexact=email).count() != 1:
        return []  # no chart has it, or several do: none of their logins can be told apart
    contact = users.filter(
        patient__email__iexact=email, email="", is_staff=False, is_superuser=False, staff__isnull=True
    ).select_related("patient")
    return [(user.pk, CONTACT) for user in contact if _may_be_reset(user) and _confirmed_contact(user.patient)]


def _confirmed_contact(patient) -> str:
    """The chart's contact email if the patient confirmed it as it is now (Patient.email_is_confirmed), else ""."""
    return patient.email if patient is not None and patient.email_is_confirmed else ""


class ResetTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token, also bound to the address the link is mailed to. Django's covers the
    login's own email only, which is empty for a patient reached through the chart's contact email."""

    def _make_hash_value(self, user, timestamp: int) -> str:
        contact = "" if user.email else _confirmed_contact(getattr(user, "patient", None))
        # Compared as the chart compares it (Patient.email_is_confirmed): a change of case is none.
        return super()._make_hash_value(user, timestamp) + upper_by_letter(contact.strip())


reset_token_generator = ResetTokenGenerator()


def hourly_count_allows(key: str, limit: int) -> bool:
    """Count one more request under `key` this hour; False once the hour's limit is passed."""
    cache.add(key, 0, RESET_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, RESET_WINDOW_SECONDS)
        count = 1
    return count <= limit


def client_may_ask(client: str | None) -> bool:
    """Count one more request from `client` (an IPv6 client by its /64) this hour."""
    digest = hashlib.sha256(client_counted_as(client).encode()).hexdigest()
    return hourly_count_allows(f"password-reset:client:{digest}", RESET_LIMIT_PER_CLIENT)


def login_may_be_mailed(user_id: int) -> bool:
    return hourly_count_allows(f"password-reset:login:{user_id}", RESET_LIMIT_PER_LOGIN)


def _address(user, which: str) -> str:
    if which == OWN:
        return user.email
    return _confirmed_contact(getattr(user, "patient", None))


def reset_link_send(*, user_id: int, which: str) -> bool:
    """Mail one login its reset link at the address on file; False when it may no longer be reset
    (deactivated, its password made unusable, or its address gone or changed and not confirmed since
    the page was sent)."""
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None or not _may_be_reset(user):
        return False
    address = _address(user, which)
    if not address:
        return False
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = reset_token_generator.make_token(user)
    context = {
        "email": address,
        "user": user,
        "site_name": settings.SITE_URL.split("://", 1)[-1],
        "link": settings.SITE_URL + reverse("password-reset-confirm", kwargs={"uidb64": uid, "token": token}),
        "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
    PasswordResetForm().send_mail(
        "registration/password_reset_subject.txt", "registration/password_reset_email.txt", context, None, address
    )
    return True


def confirmable(user) -> bool:
    """Whether a link may still set `user`'s password (the confirm page's extra rule)."""
    return user is not None and _may_be_reset(user)
