"""Delivering the SIU outbox to a real MLLP listener: every event, in order per appointment,
once; a receiver that is down, answers AE/AR, answers garbage or does not answer at all."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.test import override_settings

from interop.models import SiuMessage, SiuReceiver, SiuStatus
from interop.siu.delivery import retry_delay, siu_deliver_due, siu_requeue
from interop.siu.mllp import read_ack
from scheduling import services
from tests.factories import PatientFactory, SiteFactory
from tests.interop.conftest import Listener
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db


def _book(feed, *, day: int, hour: int = 15):
    clinic = feed.clinic
    plan = clinic.plan()
    return services.appointment_book(
        patient=plan.patient,
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC),
        actor=clinic.front_desk.user,
        now=NOW,
        plan=plan,
    )


def _life(feed):
    """Book, move, confirm and cancel one session; book another and mark it a no-show."""
    desk = feed.clinic.front_desk.user
    first = _book(feed, day=3)
    services.appointment_move(
        appointment=first, starts_at=dt.datetime(2026, 3, 4, 15, tzinfo=dt.UTC), actor=desk, now=NOW
    )
    services.appointment_confirm(appointment=first, actor=desk, now=NOW)
    services.appointment_cancel(appointment=first, actor=desk, reason="Travelling", now=NOW)
    second = _book(feed, day=5)
    services.appointment_mark_no_show(appointment=second, actor=desk, now=second.starts_at + dt.timedelta(hours=1))
    return first, second


def _per_appointment(listener, appointment):
    return [event for pk, event in listener.events() if pk == str(appointment.pk)]


def test_every_event_arrives_in_order_and_once(feed, listener):
    first, second = _life(feed)
    report = siu_deliver_due(now=NOW)
    assert report.sent == 6 and report.retried == report.parked == 0
    assert _per_appointment(listener, first) == ["S12", "S13", "S14", "S15"]
    assert _per_appointment(listener, second) == ["S12", "S26"]
    assert len(listener.control_ids()) == len(set(listener.control_ids())) == 6
    assert set(SiuMessage.objects.values_list("status", flat=True)) == {SiuStatus.SENT}
    assert not SiuMessage.objects.filter(acked_at__isnull=True).exists()
    # Nothing is sent twice: a second run finds nothing due.
    assert siu_deliver_due(now=NOW + dt.timedelta(hours=1)).claimed == 0
    assert len(listener.received) == 6


def test_events_sent_as_they_happen_keep_their_order(feed, listener):
    desk = feed.clinic.front_desk.user
    appointment = _book(feed, day=3)
    siu_deliver_due(now=NOW)
    services.appointment_move(
        appointment=appointment, starts_at=dt.datetime(2026, 3, 4, 15, tzinfo=dt.UTC), actor=desk, now=NOW
    )
    siu_deliver_due(now=NOW)
    services.appointment_cancel(appointment=appointment, actor=desk, reason="Unwell", now=NOW)
    siu_deliver_due(now=NOW)
    assert _per_appointment(listener, appointment) == ["S12", "S13", "S15"]


def test_a_receiver_that_is_down_loses_nothing_and_duplicates_nothing(feed, listener):
    listener.stop()
    first, second = _life(feed)
    down = siu_deliver_due(now=NOW)
    assert down.sent == 0 and down.retried == 2  # the first message of each appointment; the rest wait
    assert SiuMessage.objects.filter(status=SiuStatus.PENDING).count() == 6
    later = NOW + retry_delay(1)
    assert siu_deliver_due(now=later).retried == 2
    listener.start()  # same port
    # Not yet due: the second failure's backoff has not run out.
    assert siu_deliver_due(now=later).claimed == 0
    report = siu_deliver_due(now=later + retry_delay(2))
    assert report.sent == 6
    assert _per_appointment(listener, first) == ["S12", "S13", "S14", "S15"]
    assert _per_appointment(listener, second) == ["S12", "S26"]
    assert len(listener.received) == 6


@pytest.mark.parametrize("answer", ["AE", "AR"])
def test_an_error_ack_is_retried_with_backoff_then_parked(feed, listener, settings, answer):
    settings.SIU_MAX_ATTEMPTS = 3
    listener.answer = answer
    appointment = _book(feed, day=3)
    services.appointment_cancel(appointment=appointment, actor=feed.clinic.front_desk.user, reason="x", now=NOW)
    booked = SiuMessage.objects.get(appointment=appointment, event="S12")
    now = NOW
    for attempt in (1, 2):
        assert siu_deliver_due(now=now).retried == 1
        booked.refresh_from_db()
        assert booked.attempts == attempt and booked.status == SiuStatus.PENDING
        assert booked.next_attempt_at == now + retry_delay(attempt) and answer in booked.last_error
        assert siu_deliver_due(now=now + retry_delay(attempt) - dt.timedelta(seconds=1)).claimed == 0
        now += retry_delay(attempt)
    assert siu_deliver_due(now=now).parked == 1
    booked.refresh_from_db()
    assert booked.status == SiuStatus.PARKED and booked.attempts == 3
    # The same message each time (one control id), and the cancellation never overtook it.
    assert listener.control_ids() == [booked.control_id] * 3
    assert siu_deliver_due(now=now + dt.timedelta(days=1)).claimed == 0
    # Re-queued by an administrator once the receiver is fixed: both go, in order.
    listener.answer = "AA"
    assert siu_requeue(message_ids=[booked.pk], now=now) == 1
    assert siu_deliver_due(now=now).sent == 2
    assert _per_appointment(listener, appointment) == ["S12"] * 4 + ["S15"]


@pytest.mark.parametrize("answer", ["garbage", "unframed", "silent"])
def test_a_malformed_or_missing_ack_is_retried_not_fatal(feed, listener, answer):
    appointment = _book(feed, day=3)
    listener.answer = answer
    report = siu_deliver_due(now=NOW)
    assert report.retried == 1 and report.sent == 0
    message = SiuMessage.objects.get(appointment=appointment)
    assert message.status == SiuStatus.PENDING and message.attempts == 1 and message.last_error
    listener.answer = "AA"
    assert siu_deliver_due(now=NOW + retry_delay(1)).sent == 1
    message.refresh_from_db()
    assert message.status == SiuStatus.SENT
    # The receiver saw the message twice under one control id, which lets it drop the repeat.
    assert set(listener.control_ids()) == {message.control_id}


def test_an_ack_for_another_message_is_not_taken_as_an_ack(feed, listener, monkeypatch):
    from interop.siu import mllp

    assert not mllp.read_ack(b"MSH|^~\\&|A|B\rMSA|AA|someone-else\r", control_id="mine").accepted
    assert mllp.read_ack(b"MSH|^~\\&|A|B\rMSA|AA|mine\r", control_id="mine").accepted
    assert mllp.read_ack(b"MSH|^~\\&|A|B\rMSA|AE|mine|bad PID\r", control_id="mine").code == "AE"
    assert not mllp.read_ack(b"\xff\xfe", control_id="mine").code


def test_an_ack_whose_segments_end_in_cr_lf_is_read_as_accepted():
    # Some interface engines end each segment with CR LF (or LF alone) instead of CR.
    ack = b"MSH|^~\\&|EHR|CLINIC|KETAMINE-SCHED|SITE|20260301120000||ACK^S12|A1|P|2.5\r\nMSA|AA|mine\r\n"
    answer = read_ack(ack, control_id="mine")
    assert answer.accepted, f"an AA ended in CR LF was read as {answer}"
    assert read_ack(ack.replace(b"\r\n", b"\n"), control_id="mine").accepted


def test_a_disabled_receiver_keeps_its_messages_until_it_is_enabled(feed, listener):
    _book(feed, day=3)
    feed.receiver.enabled = False
    feed.receiver.save(update_fields=["enabled"])
    assert siu_deliver_due(now=NOW).claimed == 0
    feed.receiver.enabled = True
    feed.receiver.save(update_fields=["enabled"])
    assert siu_deliver_due(now=NOW).sent == 1


@override_settings(SIU_RETRY_BASE_SECONDS=30, SIU_RETRY_MAX_SECONDS=600)
def test_backoff_doubles_up_to_the_maximum():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 5, 6)] == [30, 60, 120, 240, 480, 600]


def test_the_task_delivers_and_beat_runs_it_periodically(feed, listener, settings):
    from interop.tasks import siu_deliver

    _book(feed, day=3)
    assert siu_deliver.run() == {"claimed": 1, "sent": 1, "retried": 0, "parked": 0}
    assert len(listener.received) == 1
    entry = settings.CELERY_BEAT_SCHEDULE["deliver-siu-messages"]
    assert entry["task"] == siu_deliver.name and entry["schedule"] == float(settings.SIU_DELIVER_EVERY)
    # A booking queues the same task by name (interop.siu does not import interop.tasks).
    from interop.siu.outbox import DELIVER_TASK

    assert siu_deliver.name == DELIVER_TASK


def test_a_run_starts_no_message_that_could_outlive_its_claim(feed, listener, settings):
    settings.SIU_LEASE_SECONDS = 0.6  # half of it is less than the receiver's 0.5 s ACK timeout
    appointment = _book(feed, day=3)
    report = siu_deliver_due(now=NOW)
    assert report.claimed == 1 and report.sent == report.retried == 0
    message = SiuMessage.objects.get(appointment=appointment)
    assert message.status == SiuStatus.PENDING and message.attempts == 0 and message.next_attempt_at == NOW
    assert listener.received == []


class _ArrivalTimes(list):
    """A listener's `received` that also notes when each message arrived (seconds after `t0`)."""

    def __init__(self, t0: list[float]) -> None:
        super().__init__()
        self.t0 = t0
        self.at: list[float] = []

    def append(self, item) -> None:
        self.at.append(time.monotonic() - self.t0[0])
        super().append(item)


def test_a_run_never_sends_a_message_after_its_claims_lease_ran_out(feed, listener, settings):
    # One claim takes twelve messages for four slow receivers (0.9 s each, 3.6 s one after the
    # other): all of them must be sent inside the claim's 3 s lease, or another worker could take
    # the rest over and send them too. Sent to at once, the last starts 0.6 s in, well inside the
    # half of the lease a run starts sends in (1.5 s), also on a busy machine.
    settings.SIU_LEASE_SECONDS = 3.0
    t0 = [0.0]
    listeners = [listener] + [Listener() for _ in range(3)]
    try:
        receivers = [feed.receiver]
        for extra in listeners[1:]:
            extra.start()
            receivers.append(
                SiuReceiver.objects.create(
                    site=SiteFactory(), host="127.0.0.1", port=extra.port, ack_timeout_seconds=0.45
                )
            )
        SiuReceiver.objects.filter(pk=feed.receiver.pk).update(ack_timeout_seconds=0.45)
        for each in listeners:
            each.delay = 0.3
            each.received = _ArrivalTimes(t0)
        clinic = feed.clinic
        appointments = [
            services.appointment_book(
                patient=PatientFactory(home_site=clinic.site),
                site=clinic.site,
                starts_at=dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC),
                actor=clinic.front_desk.user,
                now=NOW,
                chair=clinic.chairs[chair],
                nurse=clinic.nurses[0],
            )
            for day in (3, 4, 5, 6)
            for chair, hour in enumerate((14, 17, 20))
        ]
        for number, appointment in enumerate(appointments):  # three for each receiver
            SiuMessage.objects.filter(appointment=appointment).update(receiver=receivers[number // 3])
        t0[0] = time.monotonic()
        report = siu_deliver_due(now=NOW)
        assert report.sent == report.claimed == 12, report
        lease = settings.SIU_LEASE_SECONDS
        late = [round(at, 2) for each in listeners for at in each.received.at if at >= lease]
        assert not late, f"sent {late} s after the run's start, when its claim's {lease:g} s lease had run out"
    finally:
        for extra in listeners[1:]:
            extra.close()
