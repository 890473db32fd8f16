"""What one HTTP booking costs the database: a bounded number of statements and a single
commit, the access-log row included, however many appointments the site already holds."""

from __future__ import annotations

from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.models import AccessLog, ReminderPolicy
from scheduling.models import Appointment, IdempotencyRecord, Reminder
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, make_clinic

MAX_STATEMENTS = 14  # the staff row brings its site ids, so the works-at check reads nothing
# BEGIN, one SAVEPOINT and its RELEASE (the booking service's own atomic block), COMMIT.
MAX_TRANSACTION_CONTROL = 4
_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")


def _book(client: APIClient, clinic, patient, *, hour: int, key: str):
    body = {
        "patient": patient.pk,
        "site": clinic.site.pk,
        "starts_at": f"2026-03-05T{hour}:00:00Z",
        "chair": clinic.chairs[0].pk,
        "nurse": clinic.nurses[0].pk,
    }
    return client.post("/api/v1/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db(transaction=True)
def test_an_api_booking_takes_few_statements_and_one_commit():
    clinic = make_clinic(days=30)
    ReminderPolicy.objects.get_or_create(site=clinic.site)
    patient = PatientFactory(home_site=clinic.site, reminder_consent=True, email="p@example.org")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=clinic.front_desk.user)[1]}")
    warm_patient = PatientFactory(home_site=clinic.site)
    commits = []
    real_commit = BaseDatabaseWrapper._commit

    def counting_commit(wrapper):
        commits.append(wrapper.alias)
        return real_commit(wrapper)

    with time_machine.travel(NOW, tick=False):
        # A first booking warms per-process caches, as a running server has them.
        assert _book(client, clinic, warm_patient, hour=19, key="warm").status_code == 201
        with (
            mock.patch.object(BaseDatabaseWrapper, "_commit", counting_commit),
            CaptureQueriesContext(connection) as queries,
        ):
            response = _book(client, clinic, patient, hour=15, key="k-1")
    listing = "\n".join(q["sql"][:200] for q in queries.captured_queries)
    control = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(_CONTROL)]
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(_CONTROL)]
    assert response.status_code == 201, response.content
    assert len(statements) <= MAX_STATEMENTS, f"{len(statements)} statements:\n{listing}"
    assert len(control) <= MAX_TRANSACTION_CONTROL, listing
    assert len(commits) == 1, listing
    appointment = Appointment.objects.get(pk=response.json()["id"])
    assert appointment.history.count() == 1
    assert Reminder.objects.filter(appointment=appointment).exists()
    assert IdempotencyRecord.objects.filter(key="k-1").exists()
    assert AccessLog.objects.filter(method="POST", status_code=201).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_refused_api_booking_writes_nothing_but_its_access_log_row():
    clinic = make_clinic(days=30)
    ReminderPolicy.objects.get_or_create(site=clinic.site)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=clinic.front_desk.user)[1]}")
    with time_machine.travel(NOW, tick=False):
        first = _book(client, clinic, PatientFactory(home_site=clinic.site), hour=15, key="a")
        taken = _book(client, clinic, PatientFactory(home_site=clinic.site), hour=15, key="b")
    assert (first.status_code, taken.status_code) == (201, 409)
    assert Appointment.objects.count() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["a"]
    assert sorted(AccessLog.objects.values_list("status_code", flat=True)) == [201, 409]


@pytest.mark.django_db(transaction=True)
def test_a_retry_after_a_refusal_with_the_same_key_tries_again():
    clinic = make_clinic(days=30)
    ReminderPolicy.objects.get_or_create(site=clinic.site)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=clinic.front_desk.user)[1]}")
    blocker, patient = PatientFactory(home_site=clinic.site), PatientFactory(home_site=clinic.site)
    with time_machine.travel(NOW, tick=False):
        blocking = _book(client, clinic, blocker, hour=15, key="blocker")
        refused = _book(client, clinic, patient, hour=15, key="k")
        client.post(f"/api/v1/appointments/{blocking.json()['id']}/cancel/", {"reason": "moved"}, format="json")
        retried = _book(client, clinic, patient, hour=15, key="k")
    assert (refused.status_code, retried.status_code) == (409, 201)
    assert IdempotencyRecord.objects.get(key="k").response_status == 201
