"""On the embedded default (SQLite, where a row lock is no lock), an unchanged admin change page
saves and one shown before a change is refused, as on PostgreSQL (clinic/admin_edits.py)."""

from __future__ import annotations

from tests.sqlite_shell import run_on_sqlite

SCENARIO = r"""
import json
from django.test.utils import setup_test_environment
setup_test_environment()
from django.test import Client
from django.contrib.auth import get_user_model
from clinic.models import Role
from patients.models import Patient, Contraindication
from tests.factories import SiteFactory, StaffFactory, ChairFactory, PatientFactory, ProtocolFactory, UserFactory
from tests.test_admin_concurrent_edits import _change_form_data

site = SiteFactory(name="North", time_zone="UTC")
chair = ChairFactory(site=site)
nurse = StaffFactory(role=Role.NURSE, sites=[site])
patient = PatientFactory(home_site=site)
protocol = ProtocolFactory()
rule = Contraindication.objects.create(code="rule-x", label="Rule X", kind="flag")
boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
StaffFactory(user=boss, role=Role.PRESCRIBER, all_sites=True)
client = Client()
client.force_login(boss)
out = {}
for obj in [site, chair, nurse, nurse.user, patient, protocol, rule, site.reminder_policy]:
    url = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"
    got = client.get(url)
    answer = client.post(url, _change_form_data(got))
    out[obj._meta.label] = answer.status_code
# A stale page: refused, with the message.
url = f"/admin/patients/patient/{patient.pk}/change/"
data = _change_form_data(client.get(url))
Patient.objects.filter(pk=patient.pk).update(reminder_consent=not patient.reminder_consent)
data["escort_name"] = "Corrected"
answer = client.post(url, data)
out["stale"] = [answer.status_code, "after you opened it" in answer.content.decode()]
print("RESULT", json.dumps(out))
"""


def test_unchanged_change_pages_save_and_stale_ones_are_refused_on_sqlite(tmp_path, tmp_path_factory):
    found = run_on_sqlite(tmp_path, tmp_path_factory, SCENARIO)
    stale = found.pop("stale")
    assert set(found.values()) == {302}, found
    assert stale == [200, True]
