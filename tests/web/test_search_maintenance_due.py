"""Patient search shows when a patient on an active maintenance plan with nothing booked ahead is due
their next session (the plan's interval after its last session, as maintenance is laid out), or
overdue; a draft plan still reads "none booked". One query for every row."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from scheduling.models import Appointment, AppointmentStatus, Phase
from tests.scheduling.conftest import into_maintenance
from tests.web.conftest import login, make_patient

pytestmark = pytest.mark.django_db


def _nothing_booked_ahead(plan) -> dt.date:
    """The plan's laid-out maintenance sessions cancelled; the day of its last session held."""
    Appointment.objects.filter(plan=plan, phase=Phase.MAINTENANCE).update(
        status=AppointmentStatus.CANCELLED, cancelled_at=dt.datetime(2026, 3, 20, tzinfo=dt.UTC)
    )
    last = plan.appointments.filter(status=AppointmentStatus.COMPLETED).order_by("-starts_at").first()
    return last.starts_at.astimezone(plan.site.zone).date()


def _search(client, text: str):
    return client.get(reverse("web:patient-search"), {"q": text})


def test_a_maintenance_patient_with_nothing_booked_reads_due_then_overdue(client, web):
    plan, _ = into_maintenance(web.clinic, patient=make_patient(web.clinic, "patient_m", "Mia", "Moss"))
    last = _nothing_booked_ahead(plan)
    due = last + dt.timedelta(days=plan.maintenance_interval_days)
    draft = web.clinic.plan(patient=make_patient(web.clinic, "patient_d", "Dan", "Moss"))
    assert draft.status == "draft"
    with time_machine.travel(dt.datetime.combine(due - dt.timedelta(days=2), dt.time(15), tzinfo=dt.UTC), tick=False):
        login(client, web.desk.user)
        response = _search(client, "Moss")
        rows = {p.first_name: p for p in response.context["results"]}
        assert rows["Mia"].maintenance_due == {"day": due, "overdue": False}
        assert rows["Dan"].maintenance_due is None
        text = response.content.decode()
        assert f"due {due:%a %-d %b %Y}" in text
        assert text.count('data-testid="maintenance-due"') == 1
    with time_machine.travel(dt.datetime.combine(due + dt.timedelta(days=5), dt.time(15), tzinfo=dt.UTC), tick=False):
        client.logout()
        login(client, web.desk.user)
        text = _search(client, "Moss").content.decode()
        assert f"overdue since {due:%a %-d %b %Y}" in text
    # On the day itself it is due, not yet overdue (15:00 UTC is that day at the site too).
    with time_machine.travel(dt.datetime.combine(due, dt.time(15), tzinfo=dt.UTC), tick=False):
        client.logout()
        login(client, web.desk.user)
        # The results only: the search form's "Due for a session" choices say "overdue" too.
        text = _search(client, "Moss").content.decode().split('id="search-results"', 1)[1]
        assert f"due {due:%a %-d %b %Y}" in text and "overdue" not in text


def test_a_maintenance_patient_with_a_session_booked_shows_that_session_not_a_due_date(client, web):
    into_maintenance(web.clinic, patient=make_patient(web.clinic, "patient_m", "Mia", "Moss"))
    with time_machine.travel(dt.datetime(2026, 3, 20, 15, tzinfo=dt.UTC), tick=False):
        login(client, web.desk.user)
        response = _search(client, "Moss")
        [row] = response.context["results"]
        assert row.next_session is not None and row.maintenance_due is None
        assert 'data-testid="maintenance-due"' not in response.content.decode()


# As tests/web/test_query_counts.py counts the search: session, user, role, the patients, their
# maintenance plans (one query for every row), the access log.
SEARCH_QUERIES = 6


def test_search_with_due_dates_keeps_a_fixed_number_of_queries(client, web, django_assert_max_num_queries):
    for n in range(4):
        plan, _ = into_maintenance(web.clinic, patient=make_patient(web.clinic, f"patient_{n}", f"Max{n}", "Moss"))
        _nothing_booked_ahead(plan)
    with time_machine.travel(dt.datetime(2026, 3, 20, 15, tzinfo=dt.UTC), tick=False):
        login(client, web.desk.user)
        _search(client, "Moss")  # a hot read's first use in the process prepares its statement
        with django_assert_max_num_queries(SEARCH_QUERIES):
            response = _search(client, "Moss")
    assert len(response.context["results"]) == 4
    assert all(row.maintenance_due is not None for row in response.context["results"])
