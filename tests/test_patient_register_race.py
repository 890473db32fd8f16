"""Two registrations of the same person at the same moment (a double-clicked "Register patient", or
two desks) make one chart: patients.services.patient_duplicate_check locks the birth date until the
registration commits, so the second reads the first's chart and is refused. Without the lock both
looked for a duplicate, found none, and inserted."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import pytest
from django.db import connection

from clinic.errors import DomainError
from clinic.models import Role
from patients.models import Patient
from patients.services import patient_register
from tests.factories import SiteFactory, StaffFactory, UserFactory

NOW = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)


@pytest.mark.django_db(transaction=True)
def test_the_same_person_registered_twice_at_once_gets_one_chart(monkeypatch):
    assert connection.vendor == "postgresql", "this race needs PostgreSQL (DATABASE_URL)"
    site = SiteFactory()
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[site], user=UserFactory(username="desk_race"))
    both_checked = threading.Barrier(2)
    original = Patient.full_clean

    def full_clean(self, *args, **kwargs):
        # Both registrations have looked for a duplicate by now, unless the first made the second wait.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait(timeout=3)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Patient, "full_clean", full_clean)
    fields = {"first_name": "Dana", "last_name": "Ostrander", "date_of_birth": dt.date(1979, 4, 2), "home_site": site}
    start = threading.Barrier(2)
    results: list[object] = [None, None]

    def run(index: int) -> None:
        try:
            start.wait()
            user = type(desk.user).objects.get(pk=desk.user.pk)
            results[index] = patient_register(actor=user, now=NOW, clinician=False, fields=dict(fields))
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert Patient.objects.filter(last_name="Ostrander").count() == 1, results
    assert sum(isinstance(result, DomainError) for result in results) == 1, results
