"""The sign-in pages' background work: mailing password-reset links."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from clinic.security.password_reset import reset_links_send


@shared_task(
    name="clinic.security.tasks.password_reset_send",
    ignore_result=True,
    autoretry_for=(OSError, SMTPException),
    retry_backoff=30,
    max_retries=3,
)
def password_reset_send(user_ids: list[int], typed_digest: str) -> int:
    """Mail the reset links the page asked for (none when no account matched: the page enqueues
    this either way, so its answer takes the same time)."""
    if not user_ids:
        return 0
    return reset_links_send(user_ids=user_ids, typed_digest=typed_digest)
