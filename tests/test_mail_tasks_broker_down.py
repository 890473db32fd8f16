"""With the broker down, what a request saved stands and the request is answered: the notice of a
changed contact email (queued when the change commits, patients/notices.py) is logged as not
queued instead of turning the desk's saved change into a server error; the portal's links (confirm
the address, or a new one) tell the patient to try again in a few minutes."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from kombu.exceptions import OperationalError

from patients.models import Patient
from patients.tasks import email_change_link_send, email_change_notice_send, email_confirmation_send
from tests.api.conftest import frozen, world  # noqa: F401  (the fixtures)
from tests.web.conftest import login, web  # noqa: F401

V1 = "/api/v1"


def _broker_refuses(*args, **kwargs):
    # What Celery raises from .delay() once its publish retries give up on an unreachable broker.
    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.mark.django_db(transaction=True)
def test_desk_changes_an_email_while_the_broker_is_down(world, monkeypatch, caplog):  # noqa: F811
    monkeypatch.setattr(email_change_notice_send, "delay", _broker_refuses)
    patient = world.appointment_b.patient
    client = world.client("front_desk")
    client.raise_request_exception = False
    response = client.patch(f"{V1}/patients/{patient.pk}/", {"email": "new.address@example.org"}, format="json")
    assert response.status_code == 200, (response.status_code, response.content[:300])
    assert Patient.objects.get(pk=patient.pk).email == "new.address@example.org"
    assert "Connection refused" in caplog.text


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
