"""The patients app's background work: the notice of a changed contact email (patients/notices.py
says when it is sent), mailed to the address before the change, read from the change's history row;
and the links that let a patient confirm the contact email, or an address they asked to use
instead (patients/email_confirmation.py)."""

from __future__ import annotations

import datetime as dt
import logging
from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Q
from django.utils import timezone

from clinic.validators import same_address
from patients.email_confirmation import change_link_send, confirmation_link_send
from patients.models import EmailChangeNotice, Patient

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


# The sweep leaves a notice this long to its own task, and gives up on one owed longer: a week-old
# notice of a change tells the patient little the next reminder would not.
SWEEP_AFTER = dt.timedelta(minutes=5)
SWEEP_GIVE_UP = dt.timedelta(days=7)
# A claimed notice is its sender's this long: well past a mail server's answer (EMAIL_TIMEOUT).
CLAIM_LEASE = dt.timedelta(seconds=max(120, 4 * (settings.EMAIL_TIMEOUT or 30)))


def email_change_notice(*, history_id: int) -> bool:
    """Mail the notice owed for one change (its history row) to the address before it, once. The
    notice is claimed first by a conditional update (a lease of CLAIM_LEASE), committed at once,
    and mailed outside any transaction, then marked sent: the task and the sweep never both send
    it, and no transaction waits on the mail server (on the embedded SQLite a transaction holds
    the whole database's write lock). False when there is nothing to tell (sent already, being
    sent, the row is gone, or the address before it was empty or is the same). A send that fails
    gives the claim back, so the notice stays owed."""
    now = timezone.now()
    notices = EmailChangeNotice.objects.filter(history_id=history_id)
    claimed = (
        notices.filter(sent_at__isnull=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .update(claimed_until=now + CLAIM_LEASE)
    )
    if not claimed and notices.exists():
        return False  # sent already, or another worker is sending it
    # (No row at all: a task queued before notices were kept is told as before.)
    try:
        sent = _notice_send(history_id)
    except BaseException:
        notices.filter(sent_at__isnull=True).update(claimed_until=None)
        raise
    notices.update(sent_at=timezone.now(), claimed_until=None)
    return sent


def _notice_send(history_id: int) -> bool:
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


def email_change_notices_owed_send(*, now: dt.datetime) -> int:
    """Send the notices still owed whose own task did not (the broker was down, or the mail server
    refused it through every retry); a failing send is logged and left for the next sweep."""
    sent = 0
    owed = EmailChangeNotice.objects.filter(
        sent_at__isnull=True, created_at__lte=now - SWEEP_AFTER, created_at__gt=now - SWEEP_GIVE_UP
    ).order_by("created_at")
    for history_id in owed.values_list("history_id", flat=True)[:200]:
        try:
            sent += email_change_notice(history_id=history_id)
        except (OSError, SMTPException):
            log.exception("Email change notice %s could not be sent; the next sweep tries again", history_id)
    return sent


@shared_task(name="patients.tasks.email_change_notices_sweep", ignore_result=True)
def email_change_notices_sweep() -> int:
    """Run by beat: the notices of a changed contact email still owed."""
    return email_change_notices_owed_send(now=timezone.now())


@shared_task(name="patients.tasks.email_confirmation_send", **MAIL_TASK)
def email_confirmation_send(patient_id: int) -> bool:
    return confirmation_link_send(patient_id=patient_id)


@shared_task(name="patients.tasks.email_change_link_send", **MAIL_TASK)
def email_change_link_send(patient_id: int) -> bool:
    return change_link_send(patient_id=patient_id)
