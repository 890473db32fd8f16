"""The patients app's background work: the notice of a changed contact email (patients/notices.py
says when it is sent), mailed to the address before the change, read from the change's history row;
and the links that let a patient confirm the contact email, or an address they asked to use
instead (patients/email_confirmation.py)."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage

from clinic.validators import same_address
from patients.email_confirmation import change_link_send, confirmation_link_send
from patients.models import Patient

log = logging.getLogger(__name__)

# Each task mails one message: a mail server down or refusing for a while is tried again.
MAIL_TASK: dict = {
    "ignore_result": True,
    "autoretry_for": (OSError, SMTPException),
    "retry_backoff": 60,
    "max_retries": 5,
}

SUBJECT = "The email address on your record was changed"
BODY = (
    "Hello {first_name},\n\n"
    "The email address on your record at the clinic was changed. Messages from the clinic "
    "now go to the new address.\n\n"
    "If you did not ask for this, please call the clinic: someone else may have asked for it.\n"
)


def email_change_notice(*, history_id: int) -> bool:
    """Mail the notice for one change (its history row) to the address before it; False when there
    is nothing to tell (the row is gone, or the address before it was empty or is the same)."""
    change = Patient.history.filter(history_id=history_id).first()
    # The row before it by id, not by time: two saves in the same instant have the same history_date.
    before = (
        Patient.history.filter(id=change.id, history_id__lt=history_id).order_by("-history_id").first()
        if change is not None
        else None
    )
    if before is None or not before.email or same_address(before.email, change.email or ""):
        return False
    body = BODY.format(first_name=change.first_name)
    EmailMessage(SUBJECT, body, settings.DEFAULT_FROM_EMAIL, [before.email]).send()
    log.info("Email change notice sent for patient %s", change.id)
    return True


@shared_task(name="patients.tasks.email_change_notice_send", **MAIL_TASK)
def email_change_notice_send(history_id: int) -> bool:
    return email_change_notice(history_id=history_id)


@shared_task(name="patients.tasks.email_confirmation_send", **MAIL_TASK)
def email_confirmation_send(patient_id: int) -> bool:
    return confirmation_link_send(patient_id=patient_id)


@shared_task(name="patients.tasks.email_change_link_send", **MAIL_TASK)
def email_change_link_send(patient_id: int) -> bool:
    return change_link_send(patient_id=patient_id)
