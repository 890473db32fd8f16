"""the staff pages refuse control characters as the API does.

clinic/api_fields.py: "No control characters in any string (a trailing NUL, an escape): tab and
newlines are fine" — the API refuses them everywhere (clinic.api.refuse_control_characters). The
pages write the same rows through the same services, so their forms refuse them too
(clinic.form_fields.RefusesControlCharacters): an escape sequence or a bell typed or pasted into a
page is never stored and later shown on the board, in messages or in the plan's history."""

from __future__ import annotations

from django.urls import reverse

from patients.models import Patient
from scheduling.models import PlanStatus
from tests.web.conftest import login
from tests.web.test_patient_pages import NEW_PATIENT


def test_registration_refuses_an_escape_sequence_in_a_name(client, web):
    login(client, web.desk.user)
    data = {**NEW_PATIENT, "home_site": web.clinic.site.pk, "first_name": "Dana\x1b[2J\x07"}
    response = client.post(reverse("web:patient-register"), data)
    assert response.status_code == 400
    assert "first_name" in response.context["form"].errors
    assert not Patient.objects.filter(last_name="Ostrander").exists()


def test_a_plan_change_reason_with_control_characters_is_refused_and_changes_nothing(client, web):
    web.plan_a.refresh_from_db()
    version = web.plan_a.version
    history = web.plan_a.history.count()
    login(client, web.prescriber.user)
    response = client.post(
        reverse("web:plan-adjust", args=[web.plan_a.pk]),
        {"action": "pause", "reason": "Flu\x08\x08\x08Travel\x1b[0m", "version": version},
    )
    assert response.status_code == 400
    web.plan_a.refresh_from_db()
    assert web.plan_a.status != PlanStatus.PAUSED
    assert web.plan_a.version == version
    assert web.plan_a.history.count() == history
