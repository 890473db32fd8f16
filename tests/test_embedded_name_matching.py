"""Names are matched without regard to case (the desk's patient search, the API's `search`, FHIR's
`Patient?name=`, the one-chart-per-person check at registration), on the embedded default
(SQLite, `python dev.py run`) as on PostgreSQL. There the ORM's case-insensitive lookups compare
UPPER() of both sides, which folds every letter; SQLite's own LIKE folds only A-Z, so the
project gives SQLite a LIKE that folds every letter (clinic.db.unicode_like_on_sqlite)."""

from __future__ import annotations

from tests.sqlite_shell import run_on_sqlite

SETUP = r"""
import datetime as dt, json
import time_machine
from django.test import Client
from django.utils import timezone
# The clock is set, so registration's dates never depend on the day the test runs.
time_machine.travel(dt.datetime(2026, 3, 2, 15, tzinfo=dt.timezone.utc), tick=False).start()
from clinic.models import Role
from patients.models import Patient
from tests.factories import PatientFactory, SiteFactory, StaffFactory

site = SiteFactory(name="North", time_zone="America/Denver")
desk = StaffFactory(role=Role.FRONT_DESK, sites=[site])
known = PatientFactory(first_name="Élodie", last_name="Dubois", home_site=site, email="ed@example.org")
client = Client()
client.force_login(desk.user)
"""


def test_desk_patient_search_finds_an_accented_name_typed_in_lower_case(tmp_path, tmp_path_factory):
    code = SETUP + (
        "page = client.get('/patients/', {'q': 'élodie'})\n"
        "print('RESULT', json.dumps({'status': page.status_code, 'found': 'Dubois' in page.content.decode()}))\n"
    )
    found = run_on_sqlite(tmp_path, tmp_path_factory, code)
    assert found["status"] == 200
    assert found["found"], "searching 'élodie' on the desk page does not find Élodie Dubois on SQLite"


def test_api_patient_search_finds_an_accented_name_typed_in_lower_case(tmp_path, tmp_path_factory):
    code = SETUP + (
        "from rest_framework.test import APIClient\n"
        "api = APIClient(HTTP_HOST='localhost')\n"
        "api.force_authenticate(desk.user)\n"
        "answer = api.get('/api/v1/patients/', {'search': 'élodie'})\n"
        "body = answer.json()\n"
        "rows = body['results'] if isinstance(body, dict) and 'results' in body else body\n"
        "print('RESULT', json.dumps({'status': answer.status_code, 'ids': [r['id'] for r in rows], 'known': known.pk}))\n"
    )
    found = run_on_sqlite(tmp_path, tmp_path_factory, code)
    assert found["status"] == 200, found
    assert found["ids"] == [found["known"]], f"API search 'élodie' on SQLite: {found}"


def test_registering_the_same_person_again_in_other_case_is_refused(tmp_path, tmp_path_factory):
    code = SETUP + (
        "from patients.services import patient_register\n"
        "from scheduling.errors import SchedulingError\n"
        "refused = ''\n"
        "try:\n"
        "    patient_register(actor=desk.user, now=timezone.now(), clinician=False, fields={\n"
        "        'first_name': 'élodie', 'last_name': 'dubois', 'date_of_birth': known.date_of_birth,\n"
        "        'home_site': site, 'email': 'elodie@example.org'})\n"
        "except Exception as exc:\n"
        "    refused = type(exc).__name__ + ': ' + str(exc)\n"
        "print('RESULT', json.dumps({'refused': refused, 'charts': Patient.objects.filter(date_of_birth=known.date_of_birth).count()}))\n"
    )
    found = run_on_sqlite(tmp_path, tmp_path_factory, code)
    assert found["charts"] == 1, f"a second chart for Élodie Dubois on SQLite: {found}"
    assert "already registered" in found["refused"]


def test_fhir_patient_name_search_ignores_case_of_an_accented_name(tmp_path, tmp_path_factory):
    """FHIR R4 string search (Patient?name=) matches regardless of case (FHIR R4 §3.1.1.4.8, 'string')."""
    code = SETUP + (
        "from knox.models import AuthToken\n"
        "from tests.interop.fhir_support import BASE, FHIR_JSON\n"
        "token = AuthToken.objects.create(user=desk.user)[1]\n"
        "fhir = Client(HTTP_ACCEPT=FHIR_JSON, HTTP_AUTHORIZATION=f'Token {token}')\n"
        "answer = fhir.get(BASE + 'Patient', {'name': 'élo'})\n"
        "body = json.loads(answer.content)\n"
        "ids = [e['resource']['id'] for e in body.get('entry', []) if e['resource']['resourceType'] == 'Patient']\n"
        "print('RESULT', json.dumps({'status': answer.status_code, 'ids': ids, 'known': str(known.pk)}))\n"
    )
    found = run_on_sqlite(tmp_path, tmp_path_factory, code)
    assert found["status"] == 200, found
    assert found["ids"] == [found["known"]], f"FHIR Patient?name=élo on SQLite: {found}"
