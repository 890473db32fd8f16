"""Who looked at this patient's data? The access log's admin list filters by patient: the rows
whose `patient_ids` (a JSON list) hold that patient's id, on PostgreSQL (the test database) and
on SQLite (the embedded default, where Django's JSON `contains` lookup does not exist), and never
takes patient 1 for 11, 21 or 111. Only who may read the access log reaches the filter."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.sqlite_shell import run_on_sqlite

LIST = "/admin/clinic/accesslog/"
PATIENT_INDEX = "clinic_accesslog_patient_ids_gin"


def filter_scenario() -> dict:
    """Rows about patients 1, 11, 21, 111 ...; what the privacy officer's filtered lists show
    (names of the rows, so PostgreSQL's and SQLite's answers compare as they are)."""
    from clinic.audit import access_log_write_mailed
    from clinic.models import AccessLog, Role
    from tests.factories import StaffFactory, UserFactory

    officer = UserFactory(username="privacy-officer", is_staff=True)
    officer.user_permissions.set([Permission.objects.get(content_type__app_label="clinic", codename="view_accesslog")])
    StaffFactory(user=officer, role=Role.CLINIC_ADMIN, all_sites=True)
    named = {
        "one": AccessLog.objects.create(method="GET", path="/patients/1/", patient_ids=[1]),
        "eleven": AccessLog.objects.create(method="GET", path="/patients/11/", patient_ids=[11]),
        "twenty-one": AccessLog.objects.create(method="GET", path="/patients/21/", patient_ids=[21]),
        "several": AccessLog.objects.create(method="GET", path="/board/", patient_ids=[3, 11, 1, 111]),
        "near-misses": AccessLog.objects.create(method="GET", path="/search/", patient_ids=[10, 111, 211]),
        "nobody": AccessLog.objects.create(method="GET", path="/", patient_ids=[]),
    }
    [mailed] = access_log_write_mailed(recipient_ids=[officer.pk], what="Front desk list", patient_ids=[21, 1])
    named["mailed"] = mailed
    names = {row.pk: name for name, row in named.items()}

    client = Client()
    client.force_login(officer)
    out: dict = {}
    for patient in ("1", "11", "21", "111", "2"):
        response = client.get(LIST, {"patient": patient})
        out[patient] = sorted(names[row.pk] for row in response.context["cl"].result_list if row.pk in names)
        if patient == "1":
            page = response.content.decode()
            out["page"] = [response.status_code, 'name="patient"' in page, "Patient 1" in page]
    # The officer's own look-up names the patient it was about, so it shows up in that patient's trail.
    looked = AccessLog.objects.filter(path=f"{LIST}?patient=1").get()
    out["logged"] = [looked.user_id == officer.pk, looked.patient_ids]
    wrong = client.get(LIST, {"patient": "MRN-1"}, follow=True)
    out["wrong"] = [
        wrong.status_code,
        [row.pk for row in wrong.context["cl"].result_list if row.pk in names],
        [str(message) for message in wrong.context["messages"]],
    ]
    # Signed in staff who may not read the access log: the page (and its filter) is refused.
    desk = UserFactory(username="front-desk", is_staff=True)
    StaffFactory(user=desk, role=Role.FRONT_DESK, all_sites=True)
    client.force_login(desk)
    out["desk"] = client.get(LIST, {"patient": "1"}).status_code
    return out


EXPECTED = {
    "1": ["mailed", "one", "several"],
    "11": ["eleven", "several"],
    "21": ["mailed", "twenty-one"],
    "111": ["near-misses", "several"],
    "2": [],
    "page": [200, True, True],
    "logged": [True, [1]],
    "desk": 403,
}


def _check(found: dict) -> None:
    wrong = found.pop("wrong")
    assert found == EXPECTED
    assert wrong[:2] == [200, []]
    # Said once, what is wrong and what to give instead.
    assert [message for message in wrong[2] if "MRN-1" in message] == [
        "“MRN-1” is not a patient's number. Give the number in the patient's page address "
        "(/patients/<number>/), for example 12."
    ], wrong[2]


@pytest.mark.django_db
def test_the_access_log_filters_by_patient_on_postgresql():
    from django.db import connection

    assert connection.vendor == "postgresql"
    _check(filter_scenario())


@pytest.mark.django_db
def test_the_patient_filter_can_use_an_index_on_postgresql():
    # The log gains a row per request, so a look-up by patient must not read all of it: the filter's
    # jsonb containment (`@>`) is served by a GIN index on `patient_ids` (jsonb_path_ops). With
    # sequential scans priced out, PostgreSQL's plan for the filter's own condition names the index
    # (unordered: the list's newest-first order may also be read from the index on `at`).
    from django.db import connection, transaction

    from clinic.audit import access_log_naming_patient
    from clinic.models import AccessLog

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'clinic_accesslog' AND indexname = %s", [PATIENT_INDEX]
        )
        assert [row[0] for row in cursor.fetchall()] == [
            f"CREATE INDEX {PATIENT_INDEX} ON public.clinic_accesslog USING gin (patient_ids jsonb_path_ops)"
        ]
    AccessLog.objects.bulk_create(AccessLog(method="GET", path="/", patient_ids=[n, n + 1]) for n in range(200))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE clinic_accesslog")
        cursor.execute("SET LOCAL enable_seqscan = off")
        rows = access_log_naming_patient(AccessLog.objects.order_by(), 7)
        plan = rows.explain()
        assert sorted(row.patient_ids for row in rows) == [[6, 7], [7, 8]]
    assert f"Bitmap Index Scan on {PATIENT_INDEX}" in plan, plan


@pytest.mark.django_db
@pytest.mark.parametrize("box", ["", "   "])
def test_an_empty_patient_box_lists_the_whole_log_without_an_error(box):
    # The officer empties the box and presses "Show" (the form sends `?patient=`) to go back to
    # the whole log: no error and no empty list, which would read as "nobody accessed anything".
    from clinic.models import AccessLog, Role
    from tests.factories import StaffFactory, UserFactory

    officer = UserFactory(username="privacy-officer", is_staff=True)
    officer.user_permissions.set([Permission.objects.get(content_type__app_label="clinic", codename="view_accesslog")])
    StaffFactory(user=officer, role=Role.CLINIC_ADMIN, all_sites=True)
    rows = [
        AccessLog.objects.create(method="GET", path="/patients/1/", patient_ids=[1]),
        AccessLog.objects.create(method="GET", path="/", patient_ids=[]),
    ]
    client = Client()
    client.force_login(officer)

    response = client.get(LIST, {"patient": box})

    assert response.status_code == 200
    assert [str(message) for message in response.context["messages"]] == []
    shown = {row.pk for row in response.context["cl"].result_list}
    assert {row.pk for row in rows} <= shown
    # No patient was looked up, so the look at the list names none.
    assert AccessLog.objects.filter(user=officer, path__startswith=LIST).get().patient_ids == []


SCENARIO = r"""
import json
from django.test.utils import setup_test_environment
setup_test_environment()
from django.db import connection
assert connection.vendor == "sqlite", connection.vendor
from tests.test_access_log_admin_patient_filter import filter_scenario
print("RESULT", json.dumps(filter_scenario()))
"""


def test_the_access_log_filters_by_patient_on_sqlite(tmp_path, tmp_path_factory):
    _check(run_on_sqlite(tmp_path, tmp_path_factory, SCENARIO))


@pytest.mark.django_db
def test_a_patients_admin_page_links_to_their_access_trail_for_whoever_may_read_the_log():
    from clinic.models import Role
    from tests.factories import PatientFactory, StaffFactory, UserFactory

    patient = PatientFactory()
    page = f"/admin/patients/patient/{patient.pk}/change/"
    trail = f'href="{LIST}?patient={patient.pk}"'

    officer = UserFactory(username="privacy-officer", is_staff=True, is_superuser=True)
    StaffFactory(user=officer, role=Role.CLINIC_ADMIN, all_sites=True)
    client = Client()
    client.force_login(officer)
    response = client.get(page)
    assert response.status_code == 200
    assert trail in response.content.decode()

    # Who may change patients but not read the access log sees no link to it.
    editor = UserFactory(username="records-clerk", is_staff=True)
    editor.user_permissions.set(
        Permission.objects.filter(content_type__app_label="patients", content_type__model="patient")
    )
    StaffFactory(user=editor, role=Role.CLINIC_ADMIN, all_sites=True)
    client.force_login(editor)
    response = client.get(page)
    assert response.status_code == 200
    assert trail not in response.content.decode()
    assert "Who saw" not in response.content.decode()
