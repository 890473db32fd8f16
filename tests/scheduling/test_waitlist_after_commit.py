"""The waitlist reacts to a cancellation after it commits, through a Celery task its receiver of
`appointment_cancelled` queues on commit; with the broker down the cancel still commits, and
the periodic sweep makes the lost offer, exactly once."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from config.celery import app
from scheduling import services
from scheduling.models import AppointmentStatus, WaitlistOffer
from scheduling.services.waitlist import waitlist_offer_freed_slot, waitlist_offers_sweep
from scheduling.tasks import waitlist_offer
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW
from tests.scheduling.test_waitlist import FREED_AT, _single, _waiting

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused at once


@pytest.fixture
def broker_down():
    """The Celery app pointed at a broker that is not there, tasks really sent (not eager), and no
    publish retries, as in production when Redis is down."""
    down = {
        "broker_url": UNREACHABLE_BROKER,
        "task_always_eager": False,
        "task_publish_retry": False,
        "broker_connection_timeout": 1.0,
    }
    before = {key: app.conf[key] for key in down}
    app.conf.update(down)
    app._after_fork()  # forget pooled connections to the real broker
    yield
    app.conf.update(before)
    app._after_fork()


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """The offer tasks queued on commit, as (args), instead of sent to the broker."""
    calls: list[tuple] = []
    monkeypatch.setattr(waitlist_offer, "delay", lambda *args: calls.append(args))
    return calls


def _cancel_with_one_waiting(clinic, django_capture_on_commit_callbacks):
    """A session cancelled at NOW (committed) while one patient waits; the freed session."""
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    _waiting(clinic)
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    return freed


@pytest.mark.django_db(transaction=True)
def test_a_cancel_commits_while_the_broker_is_down_and_the_sweep_then_offers_the_chair_once(
    clinic, broker_down, caplog
):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    entry = _waiting(clinic)
    with caplog.at_level(logging.ERROR, logger="scheduling.receivers"):
        # A real commit (a transactional test): the on_commit enqueue meets the dead broker.
        outcome = services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    freed.refresh_from_db()
    assert freed.status == AppointmentStatus.CANCELLED, "the cancel committed"
    assert outcome.waitlist_offered
    assert "not queued" in caplog.text and str(freed.pk) in caplog.text, "the lost enqueue is logged"
    assert not WaitlistOffer.objects.exists()

    assert waitlist_offers_sweep(now=NOW + dt.timedelta(minutes=5)) == 1
    assert list(WaitlistOffer.objects.values_list("entry_id", "freed_id")) == [(entry.pk, freed.pk)]
    assert len(mail.outbox) == 1
    # The next sweeps, and a late task, find the offer made and make no other.
    assert waitlist_offers_sweep(now=NOW + dt.timedelta(minutes=10)) == 0
    assert waitlist_offer_freed_slot(appointment_id=freed.pk, now=NOW) == []
    assert WaitlistOffer.objects.count() == 1 and len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_offer_runs_in_the_task_queued_after_commit_and_the_sweep_then_finds_nothing_to_do(
    clinic, django_capture_on_commit_callbacks, queued
):
    freed = _cancel_with_one_waiting(clinic, django_capture_on_commit_callbacks)
    assert queued == [(freed.pk, NOW.isoformat())], "ids and an ISO instant: JSON for the broker"
    assert not WaitlistOffer.objects.exists(), "nothing is offered in the request"
    with time_machine.travel(NOW + dt.timedelta(seconds=2), tick=False):  # the worker picks it up at once
        assert waitlist_offer(*queued[0]) == 1
    assert waitlist_offers_sweep(now=NOW) == 0
    assert WaitlistOffer.objects.count() == 1


@pytest.mark.django_db
def test_a_task_run_after_the_freed_session_began_offers_nothing(clinic, django_capture_on_commit_callbacks, queued):
    """The task carries the cancel's instant, but a worker that picks it up late (it was down, or
    the queue was long) works at its own clock: the freed session has begun, so no one is offered it."""
    freed = _cancel_with_one_waiting(clinic, django_capture_on_commit_callbacks)
    assert queued == [(freed.pk, NOW.isoformat())]
    with time_machine.travel(FREED_AT + dt.timedelta(minutes=10), tick=False):
        assert waitlist_offer(*queued[0]) == 0
    assert not WaitlistOffer.objects.exists()
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_a_task_queued_by_hand_with_a_naive_instant_reads_it_as_utc(clinic, django_capture_on_commit_callbacks, queued):
    freed = _cancel_with_one_waiting(clinic, django_capture_on_commit_callbacks)
    naive = NOW.astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    with time_machine.travel(NOW - dt.timedelta(hours=1), tick=False):  # a worker whose clock lags
        assert waitlist_offer(freed.pk, naive) == 1
    assert WaitlistOffer.objects.get().messaged_at == NOW, "the message dated by the queued instant, read as UTC"


@pytest.mark.django_db
def test_a_missed_session_queues_no_offer(clinic, django_capture_on_commit_callbacks, queued):
    missed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    _waiting(clinic)
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_mark_no_show(
            appointment=missed, actor=clinic.front_desk.user, now=FREED_AT + dt.timedelta(minutes=30)
        )
    assert queued == [] and not WaitlistOffer.objects.exists()


@pytest.mark.django_db
def test_a_cancel_that_rolls_back_queues_nothing(clinic, django_capture_on_commit_callbacks, queued):
    from django.db import transaction

    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    _waiting(clinic)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
        raise RuntimeError("the request failed after the cancel")
    assert queued == []


@pytest.mark.django_db
def test_the_sweep_leaves_alone_past_sessions_old_cancellations_and_sites_where_no_one_waits(clinic):
    past = _single(clinic, PatientFactory(home_site=clinic.site), NOW + dt.timedelta(hours=2))
    services.appointment_cancel(appointment=past, actor=None, reason="Flu", now=NOW)
    nobody_waiting = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    services.appointment_cancel(appointment=nobody_waiting, actor=None, reason="Flu", now=NOW)
    assert waitlist_offers_sweep(now=NOW + dt.timedelta(hours=3)) == 0
    _waiting(clinic)
    assert waitlist_offers_sweep(now=NOW + dt.timedelta(days=3)) == 0, "cancelled too long ago for the sweep"
    assert waitlist_offers_sweep(now=NOW + dt.timedelta(hours=3)) == 1


def test_beat_runs_the_sweep_every_five_minutes_by_a_registered_task():
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-waitlist-offers"]
    assert entry["schedule"] == 300.0
    assert entry["task"] in app.tasks
