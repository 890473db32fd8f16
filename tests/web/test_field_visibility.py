"""Minimum necessary, field by field: the web pages and the API show each sensitive field to the
same roles, and the front desk sees none of the clinical ones (a plan's attention reason, a
session's notes and accepted rule break, the patient's medications)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.permissions import may_see_field
from patients.models import Patient
from scheduling.models import Appointment, TreatmentPlan
from tests.web.conftest import login

CLINICIANS = {"nurse", "prescriber"}
# (object, field, the value planted, who may read it): written out here, not read from the
# table the code uses, so a change to that table has to change this test too.
SENSITIVE = [
    ("plan", "attention_reason", "Attention-marker PHQ-9 rose by 6", CLINICIANS),
    ("appointment", "notes", "Notes-marker nausea after 40 min", CLINICIANS),
    ("appointment", "rule_override_reason", "Override-marker BP 150/95 accepted", CLINICIANS),
    ("patient", "medications", "Medications-marker lamotrigine 200 mg", CLINICIANS),
]


def _plant(web) -> None:
    TreatmentPlan.objects.filter(pk=web.plan_a.pk).update(needs_attention=True, attention_reason=SENSITIVE[0][2])
    Appointment.objects.filter(pk=web.sessions_a[0].pk).update(
        notes=SENSITIVE[1][2], rule_override_reason=SENSITIVE[2][2]
    )
    Patient.objects.filter(pk=web.patient_a.pk).update(medications=SENSITIVE[3][2])


def _api_values(web, user) -> dict[str, dict]:
    api = APIClient()
    api.force_authenticate(user)
    found = {}
    for kind, url in [
        ("plan", f"/api/v1/plans/{web.plan_a.pk}/"),
        ("appointment", f"/api/v1/appointments/{web.sessions_a[0].pk}/"),
        ("patient", f"/api/v1/patients/{web.patient_a.pk}/"),
    ]:
        response = api.get(url)
        assert response.status_code == 200, (url, response.content)
        found[kind] = response.json()
    return found


def _web_pages(client, web) -> str:
    session = web.sessions_a[0]
    day = session.starts_at.astimezone(web.clinic.site.zone).date()
    pages = [
        client.get(reverse("web:patient", args=[web.patient_a.pk])),
        client.get(reverse("web:board"), {"site": web.clinic.site.pk, "day": day.isoformat()}),
        client.get(reverse("web:board"), {"site": web.clinic.site.pk, "day": day.isoformat(), "print": "1"}),
    ]
    for page in pages:
        assert page.status_code == 200
    return "".join(page.content.decode() for page in pages)


@pytest.mark.parametrize("role", ["desk", "nurse", "prescriber"])
def test_web_and_api_show_each_sensitive_field_to_the_same_roles(client, web, role):
    _plant(web)
    staff = getattr(web, role)
    login(client, staff.user)
    api = _api_values(web, staff.user)
    pages = _web_pages(client, web)
    role_name = "front_desk" if role == "desk" else role
    for kind, field, value, readers in SENSITIVE:
        expected = role_name in readers
        in_api = api[kind][field] is not None
        on_web = value in pages
        assert (in_api, on_web) == (expected, expected), f"{role}: {kind}.{field} api={in_api} web={on_web}"
        assert may_see_field(role_name, kind, field) is expected


def test_the_clinic_admin_reads_no_session_notes_on_the_printed_board(client, web):
    _plant(web)
    login(client, web.admin.user)
    session = web.sessions_a[0]
    day = session.starts_at.astimezone(web.clinic.site.zone).date()
    page = client.get(reverse("web:board"), {"site": web.clinic.site.pk, "day": day.isoformat(), "print": "1"})
    assert page.status_code == 200
    assert SENSITIVE[1][2] not in page.content.decode()
