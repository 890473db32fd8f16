"""A day template run whose task runs out of time while the solver works is saved as out of time,
not as a solver error (Celery raises SoftTimeLimitExceeded inside whatever code is running)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded

from scheduling import tasks
from scheduling.models import DayTemplate, DayTemplateState
from scheduling.selectors import latest_day_template
from scheduling.services import day_template as service
from scheduling.services.day_template import day_template_regenerate

pytestmark = pytest.mark.django_db
LATER = dt.datetime(2026, 3, 25, 18, tzinfo=dt.UTC)  # a Wednesday of the clinic's fixture weeks


def _out_of_time(**kwargs):
    raise SoftTimeLimitExceeded()


def test_a_run_out_of_time_in_the_solver_is_saved_as_out_of_time_not_as_an_error(clinic, monkeypatch):
    first = day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=LATER)
    attempt = DayTemplate.objects.create(site=clinic.site, requested_at=LATER, computed_by=clinic.prescriber.user)
    monkeypatch.setattr(service, "solve_day_template", _out_of_time)

    with time_machine.travel(LATER, tick=False):
        assert tasks.regenerate_day_template(attempt.pk) == DayTemplateState.FAILED

    attempt.refresh_from_db()
    assert attempt.error == service.OUT_OF_TIME
    assert "ran out of time" in attempt.error and "error" not in attempt.error
    assert attempt.computed_at == LATER
    assert attempt.inputs["chairs"] == 3  # what it was solving is kept, as for any finished run
    assert latest_day_template(site_id=clinic.site.pk) == first


def test_the_service_called_outside_a_task_records_the_same(clinic, monkeypatch):
    monkeypatch.setattr(service, "solve_day_template", _out_of_time)

    attempt = day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=LATER)

    assert attempt.state == DayTemplateState.FAILED
    assert attempt.error == service.OUT_OF_TIME
