"""Self-service password reset by email, for staff and patients.

The page looks up who the address belongs to (a login's own email, or the contact email of the
patient the login belongs to) and hands their ids to a Celery task, which mails each a one-use
link (Django's reset token: it lapses after PASSWORD_RESET_TIMEOUT, and once the password or the
last sign-in changes). The page answers the same whether or not an account matched, and sends no
mail itself, so neither its words nor its time say whether an address is known. Requests are
counted per address and per client address (RESET_LIMIT_*), so the page cannot be used to flood
a mailbox or to probe addresses at speed.

Links are built on SITE_URL, never on the request's Host header, and are sent to the address on
file, never to the one typed (which may only match it by case folding)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.db.models import Q
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

log = logging.getLogger(__name__)

# Per hour: links mailed for one address, and reset requests from one client address.
RESET_LIMIT_PER_ADDRESS = 3
RESET_LIMIT_PER_CLIENT = 20
RESET_WINDOW_SECONDS = 3600


def reset_recipients(email: str) -> list[int]:
    """The ids of the active logins, with a password, whose own email or whose patient's contact
    email is `email` (compared without case)."""
    email = email.strip()
    if not email:
        return []
    users = get_user_model()._default_manager.filter(
        Q(email__iexact=email) | Q(patient__email__iexact=email), is_active=True
    )
    return sorted({user.pk for user in users if user.has_usable_password()})


def _address_on_file(user, typed_digest: str) -> str:
    """The stored address that matched, as stored (Django's rule against look-alike addresses)."""
    if user.email and address_digest(user.email) == typed_digest:
        return user.email
    patient = getattr(user, "patient", None)
    return patient.email if patient is not None and patient.email else user.email


def _counted(key: str, limit: int) -> bool:
    """Count one more request under `key` this hour; False once the hour's limit is passed."""
    cache.add(key, 0, RESET_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, RESET_WINDOW_SECONDS)
        count = 1
    return count <= limit


def address_digest(value: str) -> str:
    """What the task and the counters are given instead of the address (no address in the broker)."""
    return hashlib.sha256(value.strip().casefold().encode()).hexdigest()


def client_may_ask(client: str | None) -> bool:
    return _counted(f"password-reset:client:{address_digest(client or 'unknown')}", RESET_LIMIT_PER_CLIENT)


def address_may_be_mailed(email: str) -> bool:
    return _counted(f"password-reset:address:{address_digest(email)}", RESET_LIMIT_PER_ADDRESS)


def reset_links_send(*, user_ids: Iterable[int], typed_digest: str) -> int:
    """Mail each user a reset link at the address on file that was typed; the number sent."""
    site = urlsplit(settings.SITE_URL)
    form = PasswordResetForm()
    sent = 0
    for user in get_user_model()._default_manager.filter(pk__in=list(user_ids), is_active=True):
        if not user.has_usable_password():
            continue
        context = {
            "email": _address_on_file(user, typed_digest),
            "domain": site.netloc,
            "site_name": site.netloc,
            "uid": urlsafe_base64_encode(force_bytes(user.pk)),
            "user": user,
            "token": default_token_generator.make_token(user),
            "protocol": site.scheme,
            "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        }
        form.send_mail(
            "registration/password_reset_subject.txt",
            "registration/password_reset_email.txt",
            context,
            None,
            context["email"],
        )
        sent += 1
    log.info("Password reset: %d link(s) mailed", sent)
    return sent
