"""The patient search shows each site its own part of a patient seen at two sites (as the chart does)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tests.api.conftest import second_clinic
from tests.factories import AppointmentFactory
from tests.web.conftest import NOW, login

pytestmark = pytest.mark.django_db


def test_patient_search_next_session_leaves_out_another_sites_session(client, web):
    other = second_clinic(protocol=web.clinic.protocol, days=40)
    elsewhere = AppointmentFactory(
        patient=web.patient_a,
        chair=other.chairs[0],
        nurse=other.nurses[0],
        starts_at=NOW + dt.timedelta(days=1),  # Saturday 28 Feb, before her site-1 course starts
    )
    own_first = min(a.starts_at for a in web.sessions_a)
    assert elsewhere.starts_at < own_first
    login(client, web.desk.user)  # works at site 1 only
    # The chart of the same patient, for the same desk, lists only site-1 sessions.
    chart = client.get(reverse("web:patient", args=[web.patient_a.pk]))
    assert elsewhere.pk not in {a.pk for a in chart.context["upcoming"]}
    response = client.get(reverse("web:patient-search"), {"q": "Archer"})
    [row] = response.context["results"]
    assert row.next_session == own_first, (
        f"the site-1 desk is shown the site-2 session at {row.next_session.isoformat()} as the next session"
    )
