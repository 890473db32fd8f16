"""The beat task is thin: it runs the dispatcher."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduling.models import Reminder, ReminderStatus
from scheduling.reminders.dispatch import lease_length
from scheduling.reminders.services import reminders_schedule
from scheduling.tasks import dispatch_due_reminders
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def test_dispatch_task_sends_what_is_due(site):
    patient = factories.PatientFactory(home_site=site)
    now = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
    appointment = factories.AppointmentFactory(
        patient=patient, chair=factories.ChairFactory(site=site), starts_at=now + dt.timedelta(days=3)
    )
    reminders_schedule(appointment=appointment, now=now)
    with time_machine.travel(now, tick=False):
        totals = dispatch_due_reminders.apply().get()
    assert totals["sent"] == 1  # the booking confirmation; the reminders are not due yet
    assert Reminder.objects.filter(status=ReminderStatus.SENT).count() == 1


def _due_reminders(site, count: int, now: dt.datetime) -> None:
    chair = factories.ChairFactory(site=site)
    for n in range(count):
        patient = factories.PatientFactory(home_site=site)
        appointment = factories.AppointmentFactory(
            patient=patient, chair=chair, starts_at=now + dt.timedelta(days=3, hours=3 * n)
        )
        reminders_schedule(appointment=appointment, now=now)  # one confirmation each, due now


def test_a_backlog_fans_out_to_helper_dispatchers_that_do_not_fan_out_again(site, settings, monkeypatch):
    settings.REMINDER_DISPATCH_FAN_OUT = 2
    monkeypatch.setattr("scheduling.tasks.DISPATCH_BATCH_SIZE", 3)
    now = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
    _due_reminders(site, 7, now)
    enqueued: list[dict] = []
    monkeypatch.setattr(dispatch_due_reminders, "apply_async", lambda **options: enqueued.append(options))
    with time_machine.travel(now, tick=False):
        totals = dispatch_due_reminders.apply().get()
    assert totals["sent"] == 7  # this dispatcher keeps claiming while whole batches come back
    assert [options["kwargs"] for options in enqueued] == [{"helper": True}, {"helper": True}]
    assert all(options["expires"] == settings.REMINDER_DISPATCH_EVERY for options in enqueued)

    enqueued.clear()
    _due_reminders(site, 4, now)
    with time_machine.travel(now, tick=False):
        assert dispatch_due_reminders.apply(kwargs={"helper": True}).get()["sent"] == 4
    assert enqueued == []


def test_no_backlog_no_helpers(site, settings, monkeypatch):
    now = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
    _due_reminders(site, 2, now)
    enqueued: list[dict] = []
    monkeypatch.setattr(dispatch_due_reminders, "apply_async", lambda **options: enqueued.append(options))
    with time_machine.travel(now, tick=False):
        assert dispatch_due_reminders.apply().get()["sent"] == 2
    assert enqueued == []


def test_helpers_are_enqueued_before_the_first_full_batch_is_sent(site, settings, monkeypatch):
    """The helpers of a backlog start while the beat's dispatcher sends its first batch: they are
    enqueued as soon as its claim comes back full, not after that batch is sent (workers would
    otherwise stand idle for a batch's sending time every tick)."""
    settings.REMINDER_DISPATCH_FAN_OUT = 2
    monkeypatch.setattr("scheduling.tasks.DISPATCH_BATCH_SIZE", 3)
    now = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
    _due_reminders(site, 7, now)
    sent_when_enqueued: list[int] = []
    monkeypatch.setattr(
        dispatch_due_reminders,
        "apply_async",
        lambda **options: sent_when_enqueued.append(Reminder.objects.filter(status=ReminderStatus.SENT).count()),
    )
    with time_machine.travel(now, tick=False):
        assert dispatch_due_reminders.apply().get()["sent"] == 7
    assert sent_when_enqueued == [0, 0]


def test_a_broker_that_takes_no_helpers_does_not_hold_up_the_claimed_batch(site, settings, monkeypatch):
    """The helpers are enqueued between the claim and the sending: if the broker refuses them, the
    rows just claimed are sent all the same, not left 'sending' until their lease runs out."""
    settings.REMINDER_DISPATCH_FAN_OUT = 2
    monkeypatch.setattr("scheduling.tasks.DISPATCH_BATCH_SIZE", 3)
    now = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
    _due_reminders(site, 5, now)

    def broker_down(**options):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(dispatch_due_reminders, "apply_async", broker_down)
    with time_machine.travel(now, tick=False):
        assert dispatch_due_reminders.apply().get()["sent"] == 5
    assert not Reminder.objects.filter(status=ReminderStatus.SENDING).exists()


LEASE_NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)


def test_time_spent_enqueuing_helpers_counts_against_the_claims_lease(site, settings, monkeypatch):
    """Rule (deliver's own): a dispatcher starts no send once less than REMINDER_SEND_TIMEOUT_SECONDS
    of its claim's lease is left; the rest go back to pending, so no message is sent while a
    second dispatcher, which may claim rows whose lease expired, sends it too. The lease runs from
    the claim, so the time a slow broker takes to accept the helpers (now enqueued after the claim,
    before the batch is sent) is part of it.

    Here enqueuing the helpers takes the whole lease (an unreachable broker's connect timeouts
    and retries): nothing is sent under that claim."""
    settings.REMINDER_DISPATCH_FAN_OUT = 1
    monkeypatch.setattr("scheduling.tasks.DISPATCH_BATCH_SIZE", 3)
    _due_reminders(site, 3, LEASE_NOW)  # a booking confirmation each, due now

    with time_machine.travel(LEASE_NOW, tick=False) as traveller:

        def slow_broker(**options):
            traveller.shift(lease_length())  # the broker takes as long as the lease to answer

        monkeypatch.setattr(dispatch_due_reminders, "apply_async", slow_broker)
        totals = dispatch_due_reminders.apply().get()

    # Nothing was started under the first claim, its lease being over: the three went back to pending,
    # and the dispatcher's next claim (a fresh lease) sent them, each once.
    assert (totals["claimed"], totals["deferred"], totals["sent"]) == (6, 3, 3), totals
    sent = Reminder.objects.filter(status=ReminderStatus.SENT)
    assert set(sent.values_list("sent_at", flat=True)) == {LEASE_NOW + lease_length()}
    assert sent.count() == 3
