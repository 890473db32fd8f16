"""Real concurrency against PostgreSQL: threads with their own connections."""

from __future__ import annotations

import collections
import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connection, transaction
from django.db.models import Q

from scheduling.models import Reminder, ReminderAttempt, ReminderKind, ReminderStatus
from scheduling.reminders.dispatch import OVERTAKEN, claim_due, deliver
from scheduling.reminders.services import reminders_dispatch_due, reminders_reschedule, reminders_schedule
from tests.reminders.helpers import UTC, emails_for, make_appointment, move, rows

pytestmark = pytest.mark.django_db(transaction=True)

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)


def in_thread(target, *args):
    errors: list[BaseException] = []

    def run():
        try:
            target(*args)
        except BaseException as exc:  # surfaced in the test thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_two_dispatchers_at_once_send_each_reminder_once():
    for _ in range(40):
        reminders_schedule(appointment=make_appointment(starts_at=SESSION), now=NOW)
    due = SESSION - dt.timedelta(hours=2)
    total = Reminder.objects.filter(next_attempt_at__lte=due).count()
    assert total == 160
    mail.outbox.clear()
    start = threading.Barrier(2)
    sent_by: dict[str, int] = collections.Counter()

    def dispatcher(name: str) -> None:
        start.wait()
        while (report := reminders_dispatch_due(now=due, batch_size=7)).claimed:
            sent_by[name] += report.sent

    threads = [in_thread(dispatcher, name) for name in ("a", "b")]
    for thread, errors in threads:
        thread.join(timeout=60)
        assert not errors, errors
    ids = [m.extra_headers["X-Reminder-Id"] for m in mail.outbox]
    # Each session's confirmation and 2 h reminder go out once; its 72 h and 24 h ones, all due with
    # the 2 h one, are overtaken by it (tests/reminders/test_overdue_reminders.py), whichever
    # dispatcher holds which row.
    sent = Reminder.objects.filter(Q(kind=ReminderKind.CONFIRMATION) | Q(offset_minutes=120))
    assert len(ids) == len(set(ids)) == sum(sent_by.values()) == 80
    assert set(ids) == {str(pk) for pk in sent.values_list("pk", flat=True)}
    assert set(sent.values_list("status", flat=True)) == {ReminderStatus.SENT}
    assert set(Reminder.objects.exclude(pk__in=sent).values_list("status", "last_error")) == {
        (ReminderStatus.CANCELLED, OVERTAKEN)
    }
    assert ReminderAttempt.objects.count() == 80


def test_a_move_in_flight_holds_the_dispatcher_until_it_commits_and_the_old_reminder_is_not_sent():
    appointment = make_appointment(starts_at=SESSION)
    reminders_schedule(appointment=appointment, now=NOW)
    old = rows(appointment, kind=ReminderKind.REMINDER, offset_minutes=120)[0]
    due = old.due_at
    claim = claim_due(now=due, batch_size=100)  # claimed and committed before the move started
    moved_rows_locked, commit_move = threading.Event(), threading.Event()

    def front_desk_moves_the_session() -> None:
        with transaction.atomic():
            reminders_reschedule(appointment=move(appointment, to=SESSION + dt.timedelta(days=1)), now=NOW)
            moved_rows_locked.set()
            assert commit_move.wait(timeout=30)

    mover, mover_errors = in_thread(front_desk_moves_the_session)
    assert moved_rows_locked.wait(timeout=30)
    mail.outbox.clear()
    sender, sender_errors = in_thread(lambda: deliver(claim=claim, now=due))
    sender.join(timeout=1)
    assert sender.is_alive(), "the dispatcher should wait for the move's row locks"
    commit_move.set()
    mover.join(timeout=30)
    sender.join(timeout=30)
    assert not mover_errors and not sender_errors, (mover_errors, sender_errors)
    assert emails_for(old) == []
    assert Reminder.objects.get(pk=old.pk).status == ReminderStatus.CANCELLED
