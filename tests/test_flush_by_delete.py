"""After a transactional test the test database is emptied with DELETE rather than one TRUNCATE of
every table (tests/conftest.py, `_flush_by_delete`): every table ends empty all the same, the
append-only logs (which refuse DELETE) and the rows referring to them included."""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

from clinic.audit import access_log_write
from clinic.models import AccessLog
from clinical.models import ControlledSubstanceEntry
from scheduling.models import Appointment, AppointmentStatus
from tests.clinical_helpers import record_administration
from tests.factories import AppointmentFactory, PatientFactory
from tests.scheduling.conftest import make_clinic

pytestmark = pytest.mark.django_db(transaction=True)

SESSION_START = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)


def rows_left() -> dict[str, int]:
    models = [m for m in apps.get_models(include_auto_created=True) if m._meta.managed and not m._meta.proxy]
    counts = {m._meta.label: m._base_manager.count() for m in models}
    return {label: count for label, count in counts.items() if count}


def test_the_flush_after_a_transactional_test_empties_every_table_the_append_only_logs_too():
    clinic = make_clinic(days=14)
    nurse = clinic.nurses[0]
    session = AppointmentFactory(
        patient=PatientFactory(home_site=clinic.site),
        chair=clinic.chairs[0],
        nurse=nurse,
        starts_at=SESSION_START,
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=SESSION_START - dt.timedelta(minutes=10),
    )
    record_administration(session, nurse.user)
    access_log_write(request=None, status_code=None, username="someone")
    assert ControlledSubstanceEntry.objects.exists() and AccessLog.objects.exists() and Appointment.objects.exists()
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    statements = connection.ops.sql_flush(no_style(), tables)
    assert f"DELETE FROM {connection.ops.quote_name(Appointment._meta.db_table)};" in statements  # the quick flush

    # As Django's TransactionTestCase calls it after each test.
    call_command("flush", verbosity=0, interactive=False, reset_sequences=False, inhibit_post_migrate=True)

    assert rows_left() == {}
