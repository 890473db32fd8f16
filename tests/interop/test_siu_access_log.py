"""An SIU message carries its patient's name, date of birth and MRN (PID) to the site's EHR: a
disclosure, so each message the receiver acknowledges leaves one access-log row (domain.md:
access is logged), written with the acknowledgement. Queued, refused or unanswered messages
disclosed nothing that was confirmed and leave none; a resend after a lost ACK leaves no second."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F

from clinic.models import AccessLog
from interop.models import SiuMessage, SiuStatus
from interop.siu import delivery
from interop.siu.delivery import retry_delay, siu_deliver_due
from scheduling import services
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db


def _book(feed, *, day: int):
    clinic = feed.clinic
    plan = clinic.plan()
    return services.appointment_book(
        patient=plan.patient,
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, day, 15, tzinfo=dt.UTC),
        actor=clinic.front_desk.user,
        now=NOW,
        plan=plan,
    )


def _hl7_rows() -> list[AccessLog]:
    return list(AccessLog.objects.filter(method="HL7").order_by("pk"))


def test_an_acknowledged_message_leaves_one_access_row_naming_its_patient_and_where_it_went(feed, listener):
    appointment = _book(feed, day=3)
    message = SiuMessage.objects.get(appointment=appointment)
    assert _hl7_rows() == []  # queued is not yet disclosed
    assert siu_deliver_due(now=NOW).sent == 1
    [row] = _hl7_rows()
    assert row.user_id is None and row.status_code is None and row.ip_address is None
    assert row.event == AccessLog.Event.REQUEST
    assert row.patient_ids == [appointment.patient_id]
    receiver = feed.receiver
    assert row.path == f"SIU^S12 #{message.control_id} to 127.0.0.1:{receiver.port} ({feed.clinic.site.name})"
    # Nothing due, nothing sent again: still one row.
    assert siu_deliver_due(now=NOW + dt.timedelta(hours=1)).claimed == 0
    assert len(_hl7_rows()) == 1


def test_each_event_of_an_appointment_is_its_own_disclosure(feed, listener):
    appointment = _book(feed, day=3)
    services.appointment_cancel(appointment=appointment, actor=feed.clinic.front_desk.user, reason="Unwell", now=NOW)
    assert siu_deliver_due(now=NOW).sent == 2
    rows = _hl7_rows()
    assert [row.path.split(" ")[0] for row in rows] == ["SIU^S12", "SIU^S15"]
    control_ids = list(SiuMessage.objects.order_by("sequence").values_list("control_id", flat=True))
    assert [row.path.split(" ")[1] for row in rows] == [f"#{control_id}" for control_id in control_ids]
    assert {tuple(row.patient_ids) for row in rows} == {(appointment.patient_id,)}


@pytest.mark.parametrize("answer", ["AE", "silent"])
def test_a_refused_or_unanswered_message_leaves_no_row_until_it_is_acknowledged(feed, listener, answer):
    _book(feed, day=3)
    listener.answer = answer
    assert siu_deliver_due(now=NOW).retried == 1
    assert _hl7_rows() == []
    listener.answer = "AA"
    assert siu_deliver_due(now=NOW + retry_delay(1)).sent == 1
    # Sent twice under one control id, acknowledged once: one row.
    assert len(listener.received) == 2
    assert len(_hl7_rows()) == 1


def test_a_receiver_that_is_down_leaves_no_row(feed, listener):
    listener.stop()
    _book(feed, day=3)
    assert siu_deliver_due(now=NOW).retried == 1
    assert _hl7_rows() == []


def test_an_ack_recorded_by_another_worker_first_leaves_no_second_row(feed, listener, monkeypatch):
    # The lease ran out mid-send, another worker resent and recorded the ACK (and its disclosure,
    # whose row is left out here to count only this worker's): this worker's conditional update
    # finds nothing to take, and writes no row either.
    appointment = _book(feed, day=3)
    record = delivery._record

    def taken_over(message, answer, **kwargs):
        SiuMessage.objects.filter(pk=message.pk).update(status=SiuStatus.SENT, acked_at=NOW, disclosed_at=NOW)
        return record(message, answer, **kwargs)

    monkeypatch.setattr(delivery, "_record", taken_over)
    assert siu_deliver_due(now=NOW).sent == 0
    assert SiuMessage.objects.get(appointment=appointment).status == SiuStatus.SENT
    assert _hl7_rows() == []


def test_the_ack_is_not_recorded_without_its_access_row(feed, listener, monkeypatch):
    # One transaction: should the row fail, the message stays pending and goes again (same
    # control id), so no acknowledged disclosure is ever missing from the log.
    appointment = _book(feed, day=3)

    def broken(**kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(delivery, "access_log_write_disclosed", broken)
    with pytest.raises(RuntimeError):
        siu_deliver_due(now=NOW)
    message = SiuMessage.objects.get(appointment=appointment)
    assert message.status == SiuStatus.PENDING and message.acked_at is None and message.disclosed_at is None
    assert _hl7_rows() == []


def test_an_ack_that_arrives_after_another_worker_took_the_message_over_is_still_logged(
    feed, listener, monkeypatch, settings
):
    # Worker A holds the EHR's AA, but its lease ran out and worker B claimed the message again:
    # A's result no longer counts. B's resend (same control id) is then refused as a duplicate
    # (AE) and the message parks. The EHR acknowledged the patient's data, so the log has its row.
    settings.SIU_MAX_ATTEMPTS = 2
    appointment = _book(feed, day=3)
    record = delivery._record

    def overtaken(message, answer, **kwargs):
        assert answer is not None and answer.accepted
        SiuMessage.objects.filter(pk=message.pk).update(attempts=F("attempts") + 1)  # B's claim
        return record(message, answer, **kwargs)

    monkeypatch.setattr(delivery, "_record", overtaken)
    assert siu_deliver_due(now=NOW).sent == 0  # A's status update is dropped ...
    monkeypatch.setattr(delivery, "_record", record)
    [row] = _hl7_rows()  # ... but not the disclosure
    assert row.patient_ids == [appointment.patient_id]
    message = SiuMessage.objects.get(appointment=appointment)
    assert message.status == SiuStatus.PENDING and message.disclosed_at == NOW

    listener.answer = "AE"
    assert siu_deliver_due(now=NOW + dt.timedelta(seconds=settings.SIU_LEASE_SECONDS + 1)).parked == 1
    assert len(listener.received) == 2  # the first was acknowledged AA, the resend refused
    assert SiuMessage.objects.get(appointment=appointment).status == SiuStatus.PARKED
    assert len(_hl7_rows()) == 1, "the EHR acknowledged the patient's data: the log must say so"

    # Re-queued and acknowledged this time: the same disclosure, still one row.
    delivery.siu_requeue(message_ids=[message.pk], now=NOW + dt.timedelta(hours=1))
    listener.answer = "AA"
    assert siu_deliver_due(now=NOW + dt.timedelta(hours=1)).sent == 1
    assert SiuMessage.objects.get(appointment=appointment).disclosed_at == NOW
    assert len(_hl7_rows()) == 1
