"""Bad input on POST /api/v1/patients/ (dates out of range, phone numbers, over-long or
NUL-carrying names, unknown zones, over-long email and escort) is a 400, never a 500, and
registers nobody."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from clinic.models import Role
from patients.models import Patient
from tests.api.conftest import token_client_of
from tests.factories import SiteFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

ANCHOR = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)  # a Tuesday, 10:00 in New York
V1 = "/api/v1"


@pytest.fixture
def desk(db):
    # The clock stays set for the whole test: registration judges birth dates against today.
    with time_machine.travel(ANCHOR, tick=False):
        site = SiteFactory(name="Alpha")
        yield StaffFactory(role=Role.FRONT_DESK, sites=[site], user=UserFactory(username="desk_a"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date_of_birth", "2030-01-01"),
        ("date_of_birth", "1899-12-31"),
        ("date_of_birth", "1900-01-01"),
        ("date_of_birth", "0001-01-01"),
        ("date_of_birth", "99999-01-01"),
        ("mobile_phone", "12345"),
        ("mobile_phone", "+1" + "2" * 200),
        ("first_name", "x" * 101),
        ("last_name", "Al\x00der"),
        ("time_zone", "Mars/Base"),
        ("time_zone", "x" * 70),
        ("email", "a" * 250 + "@example.org"),
        ("escort_name", "y" * 121),
    ],
)
def test_bad_input_on_registration_is_a_400(desk, field, value):
    site = desk.sites.get()
    body = {"first_name": "Cy", "last_name": "Cedar", "date_of_birth": "1970-01-01", "home_site": site.pk}
    body[field] = value
    response = token_client_of(desk).post(f"{V1}/patients/", body, format="json")
    assert response.status_code == 400, response.content[:500]
    assert not Patient.objects.filter(last_name="Cedar").exists()
