"""Delivering the SIU outbox: each message once, in order per appointment.

A run claims due messages with SELECT ... FOR UPDATE SKIP LOCKED in a short transaction and
moves their next_attempt_at a lease ahead of the moment of the claim, so no other worker takes
them while they are in flight; the sending itself happens outside any transaction, to all of
the claim's receivers at the same time, and starts nothing after half the claim's lease. Only
the first unsent message of an appointment is ever due: a message waits while an earlier one
of its appointment is pending or parked (a receiver must not learn of a cancellation before the
booking, so a parked message holds back the rest of its appointment until an administrator
re-queues it).

The answer decides: AA (or CA) marks it sent; AE/AR, no answer in time, a lost connection or a
malformed ACK is a failed attempt, retried after an exponential backoff; after SIU_MAX_ATTEMPTS
attempts the message is parked and shows in the admin. A worker that dies mid-send leaves the
lease to run out and the message is sent again with the same control id (MSH-10), which the
receiver can use to drop the duplicate.

Every AA is a disclosure (the PID segment reached the receiver and was acknowledged): the first
one a message gets stamps its disclosed_at and writes the access-log row (method HL7, no user,
the patient of its PID segment), in one transaction with recording the ACK. That holds even for
a worker whose lease ran out and whose result is dropped because another worker claimed the
message again (that worker's resend may be refused as a duplicate and the message park): one
row per message however often it is sent, and none for AE/AR or no answer (nothing confirmed it
arrived)."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from clinic.audit import HL7, access_log_write_disclosed
from interop.siu.mllp import Answer, Batch, Outgoing, mllp_send
from interop.siu.models import SiuMessage, SiuStatus

MAX_ROUNDS = 100


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    parked: int = 0


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait after the `attempts`-th failed attempt: base, 2×base, 4×base ... up to the maximum."""
    seconds = settings.SIU_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, settings.SIU_RETRY_MAX_SECONDS))


def _due(now: dt.datetime, skip_receivers: Iterable[int]) -> QuerySet[SiuMessage]:
    earlier_unsent = SiuMessage.objects.filter(
        appointment_id=OuterRef("appointment_id"),
        sequence__lt=OuterRef("sequence"),
        status__in=[SiuStatus.PENDING, SiuStatus.PARKED],
    )
    return (
        SiuMessage.objects.filter(status=SiuStatus.PENDING, next_attempt_at__lte=now, receiver__enabled=True)
        .exclude(receiver_id__in=list(skip_receivers))
        .filter(~Exists(earlier_unsent))
    )


def _claim(*, now: dt.datetime, batch_size: int, skip_receivers: Iterable[int]) -> list[SiuMessage]:
    with transaction.atomic():
        ids = list(
            _due(now, skip_receivers)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return []
        lease = dt.timedelta(seconds=settings.SIU_LEASE_SECONDS)
        SiuMessage.objects.filter(pk__in=ids).update(attempts=F("attempts") + 1, next_attempt_at=now + lease)
    return list(
        SiuMessage.objects.filter(pk__in=ids)
        .select_related("receiver__site", "appointment")  # the site and patient, for the access log
        .order_by("appointment_id", "sequence")
    )


def _disclosure(message: SiuMessage) -> str:
    """What went where, for the access log: the message by its control id (MSH-10, which the
    outbox and the receiver's own log both show) and the receiver as it was sent to."""
    receiver = message.receiver
    return f"SIU^{message.event} #{message.control_id} to {receiver.host}:{receiver.port} ({receiver.site.name})"


def _record(
    message: SiuMessage, answer: Answer | None, *, now: dt.datetime, due_again: dt.datetime, report: DeliveryReport
) -> None:
    # Conditional on the claim (status and attempts as claimed): should the lease have run out and
    # another worker taken the message over, its result wins and this one is dropped.
    mine = SiuMessage.objects.filter(pk=message.pk, status=SiuStatus.PENDING, attempts=message.attempts)
    if answer is None:
        # Not tried (an earlier message on the connection failed, or too little of the lease was
        # left): give the attempt back, due again at once (`due_again` is not later than now).
        mine.update(attempts=F("attempts") - 1, next_attempt_at=due_again)
    elif answer.accepted:
        # The PID segment disclosed the patient to the receiver, whether or not this worker's
        # result still counts: an overtaken worker's AA is a disclosure all the same (the other
        # worker's resend may well be refused as a duplicate, and the message park). So the row is
        # written whenever an AA arrives, once per message (the first AA stamps disclosed_at), and
        # in one transaction with the ACK: an ACK is never recorded without it (the message goes
        # again) and the database refuses a sent message without disclosed_at.
        with transaction.atomic():
            first = SiuMessage.objects.filter(pk=message.pk, disclosed_at__isnull=True).update(disclosed_at=now)
            if first:
                access_log_write_disclosed(
                    channel=HL7, what=_disclosure(message), patient_ids=[message.appointment.patient_id]
                )
            if mine.update(status=SiuStatus.SENT, acked_at=now, last_error=""):
                report.sent += 1
    elif message.attempts >= settings.SIU_MAX_ATTEMPTS:
        if mine.update(status=SiuStatus.PARKED, last_error=answer.error[:2000]):
            report.parked += 1
    elif mine.update(next_attempt_at=now + retry_delay(message.attempts), last_error=answer.error[:2000]):
        report.retried += 1


def siu_deliver_due(*, now: dt.datetime, batch_size: int = 20) -> DeliveryReport:
    """Send what is due, all receivers of a claim at the same time, until nothing more is due. A
    receiver that could not be reached or did not answer properly is left alone for the rest of
    the run. `now` is when the run starts; each claim and each result is stamped with it plus the
    time the run has taken so far, so a claim's lease runs from when it was made."""
    report = DeliveryReport()
    troubled: set[int] = set()
    started = timezone.now()

    def current() -> dt.datetime:
        return now + (timezone.now() - started)

    for _ in range(MAX_ROUNDS):
        claimed_at = time.monotonic()  # the sending budget is real time, whatever the wall clock says
        claimed = _claim(now=current(), batch_size=batch_size, skip_receivers=troubled)
        if not claimed:
            break
        report.claimed += len(claimed)
        by_receiver: dict[int, list[SiuMessage]] = defaultdict(list)
        for message in claimed:
            by_receiver[message.receiver_id].append(message)
        batches = [
            Batch(
                host=messages[0].receiver.host,
                port=messages[0].receiver.port,
                timeout=messages[0].receiver.ack_timeout_seconds,
                messages=[Outgoing(m.control_id, m.payload) for m in messages],
            )
            for messages in by_receiver.values()
        ]
        # Whatever is started inside half the claim's lease is answered (or timed out) well before
        # the lease runs out, so no other worker can take it over mid-send. The half counts from
        # the claim and is shared by all its receivers (sent to at the same time).
        answers_by_receiver = mllp_send(
            batches=batches, budget=settings.SIU_LEASE_SECONDS / 2 - (time.monotonic() - claimed_at)
        )
        answered_at = current()
        for (receiver_id, messages), answers in zip(by_receiver.items(), answers_by_receiver, strict=True):
            for index, message in enumerate(messages):
                answer = answers[index] if index < len(answers) else None
                _record(message, answer, now=answered_at, due_again=now, report=report)
            # No connection, no ACK or an unreadable one, or too slow for the lease: leave the
            # receiver for the next run. (An AE or AR is an answer: the connection is fine.)
            if len(answers) < len(messages) or any(not answer.code for answer in answers):
                troubled.add(receiver_id)
    return report


@transaction.atomic
def siu_requeue(*, message_ids: Iterable[int], now: dt.datetime) -> int:
    """Send parked messages again from a fresh count of attempts (the admin's action). The last
    error stays for reference until the message is sent."""
    count = SiuMessage.objects.filter(pk__in=list(message_ids), status=SiuStatus.PARKED).update(
        status=SiuStatus.PENDING, attempts=0, next_attempt_at=now
    )
    if count:
        from interop.siu.outbox import kick_delivery

        transaction.on_commit(kick_delivery, robust=True)
    return count
