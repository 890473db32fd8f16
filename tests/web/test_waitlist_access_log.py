"""Access is logged (domain.md, "Health data"; clinic/audit.py: "Views name the patients they showed
with patients_shown()"). The waitlist page lists waiting patients by name (and the recent offers'
patients), and the desk's "Accept for patient" books a session for one: both are patient data seen
or changed by a member of staff, so their access-log rows name those patients."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import AccessLog
from scheduling.models import WaitlistOffer
from scheduling.services import appointment_cancel
from scheduling.services.waitlist import waitlist_add
from tests.web.conftest import NOW, login, make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def offered(web, django_capture_on_commit_callbacks):
    carol = make_patient(web.clinic, "carol", "Carol", "Chen")
    entry = waitlist_add(
        patient=carol, site=web.clinic.site, earliest_date=dt.date(2026, 3, 2), actor=web.desk.user, now=NOW
    )
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(
            appointment=web.sessions_a[0], actor=web.desk.user, reason="Patient unwell", now=NOW, rebook=False
        )
    return carol, WaitlistOffer.objects.get(entry=entry)


def test_the_waitlist_page_names_the_waiting_patients_in_the_access_log(client, web, offered):
    carol, _offer = offered
    login(client, web.desk.user)
    page = client.get(reverse("web:waitlist"))
    assert page.status_code == 200 and "Carol Chen" in page.content.decode()
    row = AccessLog.objects.filter(path=reverse("web:waitlist")).order_by("-pk").first()
    assert row is not None
    assert carol.pk in row.patient_ids, row.patient_ids


def test_accepting_an_offer_for_a_patient_names_them_in_the_access_log(client, web, offered):
    carol, offer = offered
    login(client, web.desk.user)
    path = reverse("web:waitlist-accept", args=[offer.pk])
    response = client.post(path)
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.status == "accepted"
    row = AccessLog.objects.filter(path=path).order_by("-pk").first()
    assert row is not None
    assert carol.pk in row.patient_ids, row.patient_ids
