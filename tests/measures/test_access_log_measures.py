"""Reading a patient's outcome measures must land in the access log with that patient, as every
other clinical read does (the chart, the session record, the plan and appointment APIs)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import AccessLog
from tests.measures.conftest import PHQ9_SEVERE, world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_the_outcome_summary_api_logs_the_patient_it_shows(world):  # noqa: F811
    world.record(world.patient_a, "phq9", PHQ9_SEVERE, world.sessions_a[0].starts_at - dt.timedelta(days=1))
    before = AccessLog.objects.count()
    response = world.client("prescriber").get(f"/api/v1/patients/{world.patient_a.pk}/outcomes/")
    assert response.status_code == 200 and response.json()["outcomes"][0]["baseline"]["total"] == 18
    entry = AccessLog.objects.order_by("-pk").first()
    assert AccessLog.objects.count() == before + 1
    assert entry.path.endswith("/outcomes/")
    assert entry.patient_ids == [world.patient_a.pk]


def test_the_staff_questionnaire_page_logs_the_patient_it_shows(client, world):  # noqa: F811
    client.force_login(world.user("nurse"))
    response = client.get(reverse("measures:staff-entry", args=[world.patient_a.pk, "phq9"]))
    assert response.status_code == 200 and world.patient_a.full_name in response.content.decode()
    entry = AccessLog.objects.order_by("-pk").first()
    assert entry.path == reverse("measures:staff-entry", args=[world.patient_a.pk, "phq9"])
    assert entry.patient_ids == [world.patient_a.pk]
