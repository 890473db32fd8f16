"""Two consent saves at once (a double-clicked Save; the portal's view is not atomic) each resume the
patient's reminders: they take turns on the patient's row, so the second adds none and neither fails
(both inserting, the unique constraint failed the second request after its consent was saved)."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from patients.models import Patient
from scheduling.models import Reminder, ReminderKind, ReminderStatus
from scheduling.reminders import services as reminder_services
from scheduling.services import course_book
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, START, clinic  # noqa: F401  (the fixture)


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.mark.django_db(transaction=True)
def test_two_consent_saves_at_once_do_not_fail(clinic, monkeypatch):  # noqa: F811
    patient = PatientFactory(home_site=clinic.site, reminder_consent=False)
    plan = clinic.plan(patient=patient)
    course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    assert not Reminder.objects.filter(appointment__patient=patient).exists()

    barrier = threading.Barrier(2, timeout=10)
    original = reminder_services._new_rows

    def slowly(**kwargs):
        # Called after the rows already queued are read and before the insert: the other request
        # reads meanwhile, unless the two take turns.
        time.sleep(0.05)
        return original(**kwargs)

    monkeypatch.setattr(reminder_services, "_new_rows", slowly)
    errors: list[BaseException] = []

    def opt_in() -> None:
        try:
            # What ReminderPreferencesForm.save_choices does (web/portal.py, no transaction).
            barrier.wait()
            me = Patient.objects.get(pk=patient.pk)
            me.reminder_consent, me.reminder_consent_changed_at = True, timezone.now()
            me.save(update_fields=["reminder_consent", "reminder_consent_changed_at", "updated_at"])
        except BaseException as exc:
            errors.append(exc)
            with contextlib.suppress(Exception):
                barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=opt_in) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert not errors, [type(e).__name__ + ": " + str(e)[:200] for e in errors]
    rows = list(
        Reminder.objects.filter(appointment__patient=patient, kind=ReminderKind.REMINDER)
        .exclude(status=ReminderStatus.CANCELLED)
        .values_list("appointment_id", "offset_minutes")
    )
    assert rows and len(rows) == len(set(rows))
