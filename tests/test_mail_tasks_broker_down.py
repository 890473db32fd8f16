"""With the broker down, what a request saved stands and the request is answered: the notice of a
changed contact email (queued when the change commits, patients/notices.py) is logged as not
queued instead of turning the desk's saved change into a server error, and beat's sweep sends it
later, once; the portal's links (confirm the address, or a new one) tell the patient to try again in a
few minutes."""

from __future__ import annotations

import datetime as dt
from smtplib import SMTPServerDisconnected

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from kombu.exceptions import OperationalError

from patients.models import EmailChangeNotice, Patient
from patients.tasks import (
    email_change_link_send,
    email_change_notice,
    email_change_notice_send,
    email_change_notices_owed_send,
    email_confirmation_send,
)
from tests.api.conftest import frozen, world  # noqa: F401  (the fixtures)
from tests.web.conftest import login, web  # noqa: F401

V1 = "/api/v1"


def _broker_refuses(*args, **kwargs):
    # What Celery raises from .delay() once its publish retries give up on an unreachable broker.
    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.mark.django_db(transaction=True)
def test_desk_changes_an_email_while_the_broker_is_down(world, frozen, monkeypatch, caplog):  # noqa: F811
    monkeypatch.setattr(email_change_notice_send, "delay", _broker_refuses)
    patient = world.appointment_b.patient
    client = world.client("front_desk")
    client.raise_request_exception = False
    response = client.patch(f"{V1}/patients/{patient.pk}/", {"email": "new.address@example.org"}, format="json")
    assert response.status_code == 200, (response.status_code, response.content[:300])
    assert Patient.objects.get(pk=patient.pk).email == "new.address@example.org"
    assert "Connection refused" in caplog.text
    assert mail.outbox == []

    # Beat's sweep sends the notice the broker never carried, to the address before the change, once.
    notice = EmailChangeNotice.objects.get(patient=patient)
    assert notice.sent_at is None
    now = frozen  # the clock the world is built on, held still
    assert email_change_notices_owed_send(now=now) == 0, "the notice's own task has a few minutes first"
    later = now + dt.timedelta(minutes=6)
    assert email_change_notices_owed_send(now=later) == 1
    assert [message.to for message in mail.outbox] == [[world.appointment_b.patient.email]]
    assert email_change_notices_owed_send(now=later) == 0
    assert email_change_notice(history_id=notice.history_id) is False, "a late task of its own sends nothing"
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_notice_the_mail_server_refuses_stays_owed_for_the_next_sweep(world, frozen, monkeypatch, caplog):  # noqa: F811
    monkeypatch.setattr(email_change_notice_send, "delay", _broker_refuses)
    patient = world.appointment_b.patient
    old = patient.email
    world.client("front_desk").patch(f"{V1}/patients/{patient.pk}/", {"email": "new@example.org"}, format="json")
    later = frozen + dt.timedelta(minutes=6)

    def refuse(*args, **kwargs):
        raise SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    assert email_change_notices_owed_send(now=later) == 0
    assert "next sweep tries again" in caplog.text
    assert EmailChangeNotice.objects.get(patient=patient).sent_at is None
    monkeypatch.undo()
    assert email_change_notices_owed_send(now=later) == 1
    assert [message.to for message in mail.outbox] == [[old]]


@pytest.mark.django_db(transaction=True)
def test_a_notice_owed_for_over_a_week_is_given_up(world, frozen, monkeypatch):  # noqa: F811
    monkeypatch.setattr(email_change_notice_send, "delay", _broker_refuses)
    patient = world.appointment_b.patient
    world.client("front_desk").patch(f"{V1}/patients/{patient.pk}/", {"email": "new@example.org"}, format="json")
    assert email_change_notices_owed_send(now=frozen + dt.timedelta(days=7, minutes=1)) == 0
    assert mail.outbox == []
    assert email_change_notices_owed_send(now=frozen + dt.timedelta(days=6)) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("task", "url", "data"),
    [
        (email_confirmation_send, "web:portal-email-confirm-request", {}),
        (email_change_link_send, "web:portal-email-change", {"email": "pat.new@mail.example"}),
    ],
)
def test_a_link_asked_for_while_the_broker_is_down_says_to_try_again(web, client, monkeypatch, task, url, data):  # noqa: F811
    monkeypatch.setattr(task, "delay", _broker_refuses)
    login(client, web.patient_a.user)
    client.raise_request_exception = False
    response = client.post(reverse(url), data)
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "We could not send the link just now. Please try again in a few minutes."
    ]
