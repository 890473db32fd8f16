"""The booking services refuse to place a session at a site the acting staff member does not
work at, whoever calls them (API, page, script); clinic-wide staff may book anywhere."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from clinic.models import Role
from clinic.permissions import OutsideYourSites
from scheduling import services
from scheduling.models import Appointment
from tests.api.conftest import second_clinic
from tests.factories import PatientFactory, StaffFactory
from tests.scheduling.conftest import NOW, START

pytestmark = pytest.mark.django_db

MONDAY_10 = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)


@pytest.fixture
def other(clinic):
    return second_clinic(protocol=clinic.protocol, days=20)


def test_front_desk_cannot_book_at_another_site(clinic, other):
    patient = PatientFactory(home_site=other.site)
    with pytest.raises(OutsideYourSites):
        services.appointment_book(
            patient=patient, site=other.site, starts_at=MONDAY_10, actor=clinic.front_desk.user, now=NOW
        )
    assert not Appointment.objects.filter(patient=patient).exists()


def test_front_desk_cannot_move_another_sites_session(clinic, other):
    booked = services.appointment_book(
        patient=PatientFactory(home_site=other.site),
        site=other.site,
        starts_at=MONDAY_10,
        actor=other.front_desk.user,
        now=NOW,
    )
    with pytest.raises(OutsideYourSites):
        services.appointment_move(
            appointment=booked, starts_at=MONDAY_10 + dt.timedelta(hours=2), actor=clinic.front_desk.user, now=NOW
        )
    booked.refresh_from_db()
    assert booked.starts_at == MONDAY_10


def test_a_course_proposed_at_another_site_cannot_be_booked_through_the_api(clinic, other):
    plan = clinic.plan()
    proposal = services.course_propose(plan=plan, start_date=START, now=NOW, site=other.site)
    sessions = [
        {
            "starts_at": s.starts_at.isoformat(),
            "ends_at": s.ends_at.isoformat(),
            "chair": s.chair_id,
            "nurse": s.nurse_id,
            "site": s.site_id,
        }
        for s in proposal.sessions
    ]
    client = APIClient()
    client.force_authenticate(clinic.front_desk.user)
    response = client.post(f"/api/v1/plans/{plan.pk}/book-course/", {"sessions": sessions}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "outside_your_sites"
    assert not plan.appointments.exists()


def test_clinic_wide_staff_book_at_any_site(clinic, other):
    wide = StaffFactory(role=Role.FRONT_DESK, all_sites=True)
    booked = services.appointment_book(
        patient=PatientFactory(home_site=other.site), site=other.site, starts_at=MONDAY_10, actor=wide.user, now=NOW
    )
    assert booked.chair.site_id == other.site.pk
