"""The sign-in pages' background work: mailing password-reset links."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from clinic.security.password_reset import reset_link_send

RETRIES = 3


@shared_task(name="clinic.security.tasks.password_reset_send", bind=True, ignore_result=True, max_retries=RETRIES)
def password_reset_send(self, recipients: list[list]) -> int:
    """Mail the reset links the page asked for, one login after another (none when no account
    matched: the page enqueues this either way, so its answer takes the same time). A mail server
    that fails is tried again later for the logins not yet mailed, never for those already sent."""
    sent = 0
    for index, (user_id, which) in enumerate(recipients):
        try:
            sent += reset_link_send(user_id=user_id, which=which)
        except (OSError, SMTPException) as exc:
            raise self.retry(args=[recipients[index:]], exc=exc, countdown=30 * 2**self.request.retries) from exc
    return sent
