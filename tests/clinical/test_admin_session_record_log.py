"""The admin's session-record pages (vitals, clearance, administration, recovery) name their
patient in the access log, though their rows reach the patient through the session."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from clinic.models import AccessLog, Role
from clinical.models import Administration
from tests.clinical_helpers import record_session_for_completion
from tests.factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_admin_administration_page_names_its_patient_in_the_access_log(client, ward):
    record_session_for_completion(ward.session, ward.nurse.user)
    administration = Administration.objects.get(appointment=ward.session)
    user = UserFactory(username="wide-admin", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=Role.PRESCRIBER, all_sites=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    response = client.get(f"/admin/clinical/administration/{administration.pk}/change/")
    assert response.status_code == 200
    row = AccessLog.objects.order_by("-pk").first()
    assert row.path.endswith(f"/administration/{administration.pk}/change/")
    assert row.patient_ids == [ward.session.patient_id], row.patient_ids
