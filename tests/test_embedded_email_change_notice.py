"""On the embedded default (SQLite, `python3 dev.py run`), whose connections BEGIN IMMEDIATE
(config/settings.py), a transaction holds the whole database's write lock: the notice of a changed
contact email (patients.tasks.email_change_notice) is therefore claimed in its own short
transaction and mailed outside any, so that while the mail server takes its time (EMAIL_TIMEOUT
30 s against SQLite's 20 s busy timeout):

- every other write of the clinic (a front-desk edit, a booking) goes through;
- beat's sweep passes over the notice being sent (claimed) and sends the others owed.

The scenarios shorten the busy timeout to 1 s and let the mail server take 3 s (standing for 20 s
and 30 s), so they run in seconds."""

from __future__ import annotations

from tests.sqlite_shell import run_on_sqlite

SET_UP = r"""
import datetime as dt, json, threading, time
from django.conf import settings
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection, connections, transaction
from django.utils import timezone
from patients.models import EmailChangeNotice, Patient
from patients.tasks import email_change_notice, email_change_notices_owed_send
from tests.factories import PatientFactory, SiteFactory

settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# A fixed instant, ticking (the scenarios sleep and wait on threads).
import time_machine
time_machine.travel(dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC), tick=True).start()
site = SiteFactory(name="North", time_zone="UTC")


def change_email(patient, new):
    with transaction.atomic():  # as the admin's and the API's writes are
        patient.email = new
        patient.save()
    return EmailChangeNotice.objects.get(patient=patient)


# The busy timeout shortened (1 s for the 20 s of config/settings.py): connections opened from now on.
connection.settings_dict["OPTIONS"]["timeout"] = 1
connection.close()

sending = threading.Event()
real_send = EmailBackend.send_messages


def slow_mail_server(self, messages):
    sending.set()
    time.sleep(3)  # a mail server slow to answer (up to EMAIL_TIMEOUT, 30 s, for the 20 s busy timeout)
    return real_send(self, messages)


def in_the_worker(fn, out, key):
    def run():
        try:
            out[key] = fn()
        except Exception as exc:
            out[key] = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()
    thread = threading.Thread(target=run)
    thread.start()
    return thread
"""

DESK_WRITE = (
    SET_UP
    + r"""
changed = PatientFactory(home_site=site, email="old@example.org")
other = PatientFactory(home_site=site, escort_name="")
notice = change_email(changed, "new@example.org")
EmailBackend.send_messages = slow_mail_server
out = {}
worker = in_the_worker(lambda: email_change_notice(history_id=notice.history_id), out, "notice_sent")
assert sending.wait(10)
try:
    # The front desk saves another patient's escort while the notice is with the mail server.
    with transaction.atomic():
        Patient.objects.filter(pk=other.pk).update(escort_name="Lee")
    out["desk_write"] = "saved"
except Exception as exc:
    out["desk_write"] = f"{type(exc).__name__}: {exc}"
worker.join()
print("RESULT", json.dumps(out))
"""
)


def test_a_desk_write_is_not_refused_while_an_email_change_notice_is_being_sent_on_sqlite(tmp_path, tmp_path_factory):
    found = run_on_sqlite(tmp_path, tmp_path_factory, DESK_WRITE)
    assert found["notice_sent"] is True, found
    assert found["desk_write"] == "saved", (
        f"another patient's edit failed while a notice was being mailed (the whole SQLite database is "
        f"write-locked during the SMTP call): {found}"
    )


SWEEP = (
    SET_UP
    + r"""
first = PatientFactory(home_site=site, email="first.old@example.org")
second = PatientFactory(home_site=site, email="second.old@example.org")
being_sent = change_email(first, "first.new@example.org")
owed = change_email(second, "second.new@example.org")
# Both owed for ten minutes (their own tasks lost while the broker was down); the first the older.
EmailChangeNotice.objects.filter(pk=being_sent.pk).update(created_at=timezone.now() - dt.timedelta(minutes=11))
EmailChangeNotice.objects.filter(pk=owed.pk).update(created_at=timezone.now() - dt.timedelta(minutes=10))
EmailBackend.send_messages = slow_mail_server
out = {}
# The first notice's own task, retried by Celery, is with the mail server when beat's sweep runs.
worker = in_the_worker(lambda: email_change_notice(history_id=being_sent.history_id), out, "task_sent")
assert sending.wait(10)
EmailBackend.send_messages = real_send
try:
    out["sweep_sent"] = email_change_notices_owed_send(now=timezone.now())
except Exception as exc:
    out["sweep_sent"] = f"{type(exc).__name__}: {exc}"
worker.join()
out["second_sent"] = EmailChangeNotice.objects.get(pk=owed.pk).sent_at is not None
print("RESULT", json.dumps(out))
"""
)


def test_the_sweep_skips_a_notice_being_sent_and_sends_the_others_on_sqlite(tmp_path, tmp_path_factory):
    found = run_on_sqlite(tmp_path, tmp_path_factory, SWEEP)
    assert found["task_sent"] is True, found
    # On PostgreSQL SKIP LOCKED passes over the notice being sent and the sweep sends the other one.
    assert found["sweep_sent"] == 1, f"the sweep failed on the notice being sent by its own task: {found}"
    assert found["second_sent"] is True, found
