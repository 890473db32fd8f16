"""CELERY_TASK_ALWAYS_EAGER (README: "run tasks inline (no worker)") and the tasks queued by name."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from celery import current_app

from scheduling.models import DayTemplate, DayTemplateState
from scheduling.services.day_template import day_template_request
from tests.scheduling.conftest import make_clinic

pytestmark = pytest.mark.django_db

# A Wednesday afternoon in the fixture clinic's weeks (its nurses work 07:30-18:30 every day).
LATER = dt.datetime(2026, 3, 25, 18, tzinfo=dt.UTC)


@pytest.fixture
def broker_emptied_after():
    """send_task puts a message on the test broker (this run's Redis database): take it off again."""
    yield
    with current_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")


def test_always_eager_computes_a_requested_day_template_inline(
    settings, django_capture_on_commit_callbacks, broker_emptied_after
):
    """README, Configuration: CELERY_TASK_ALWAYS_EAGER=true runs tasks inline, with no worker; that
    holds for the tasks services queue by name too (a "Regenerate" request, a booking's SIU
    delivery), which Celery's send_task would put on the broker instead."""
    assert settings.CELERY_TASK_ALWAYS_EAGER  # tests/settings.py, as a developer without a worker sets it
    clinic = make_clinic()

    with time_machine.travel(LATER, tick=False), django_capture_on_commit_callbacks(execute=True):
        attempt = day_template_request(site=clinic.site, actor=clinic.prescriber.user, now=LATER)

    attempt = DayTemplate.objects.get(pk=attempt.pk)
    assert attempt.state == DayTemplateState.DONE, f"still {attempt.state}: the task went to the broker"
