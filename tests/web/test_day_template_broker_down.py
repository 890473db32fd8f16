"""Regenerating the day template while the broker is unreachable: the clinic administrator gets a
page that says the run could not be queued (not a server error), and the row is marked failed, so
clicking again once the broker is back queues the run (instead of being answered with a queued
row no task will ever compute, until it goes stale)."""

from __future__ import annotations

import types

import pytest
import time_machine
from django.urls import reverse
from kombu.exceptions import OperationalError

from clinic.models import Role
from scheduling.models import DayTemplate, DayTemplateState
from scheduling.services import day_template as day_template_service
from tests.factories import StaffFactory, UserFactory
from tests.scheduling.conftest import NOW, make_clinic
from tests.web.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)


def _setup(client, monkeypatch):
    clinic = make_clinic()
    admin = StaffFactory(user=UserFactory(username="tmpladmin"), role=Role.CLINIC_ADMIN, sites=[clinic.site])
    queued: list[int] = []
    broker = {"up": False}

    def apply_async(args):
        if not broker["up"]:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        queued.extend(args)

    class Broker:
        def signature(self, name, args):
            return types.SimpleNamespace(apply_async=lambda: apply_async(args))

    monkeypatch.setattr(day_template_service, "current_app", Broker())
    client.raise_request_exception = False
    return clinic, admin, queued, broker


def test_a_regenerate_with_the_broker_down_says_it_could_not_be_queued(client, monkeypatch):
    clinic, admin, _, _ = _setup(client, monkeypatch)
    with time_machine.travel(NOW, tick=False):
        login(client, admin.user)
        response = client.post(reverse("web:day-template"), {"site": clinic.site.pk}, follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "could not be queued" in page and "try again" in page
    assert "is being computed" not in page
    attempt = DayTemplate.objects.get(site=clinic.site)
    assert attempt.state == DayTemplateState.FAILED
    assert attempt.error == day_template_service.NOT_QUEUED


def test_after_the_broker_was_down_a_second_click_queues_the_run(client, monkeypatch):
    clinic, admin, queued, broker = _setup(client, monkeypatch)
    with time_machine.travel(NOW, tick=False):
        login(client, admin.user)
        client.post(reverse("web:day-template"), {"site": clinic.site.pk})

    # The broker is back a minute later: the administrator clicks again.
    broker["up"] = True
    with time_machine.travel(NOW.replace(minute=1), tick=False):
        client.post(reverse("web:day-template"), {"site": clinic.site.pk})

    pending = {row.pk for row in DayTemplate.objects.filter(site=clinic.site, state=DayTemplateState.PENDING)}
    # Every queued row has a task on its way; none is left "being computed" with no task.
    assert pending and pending <= set(queued)
