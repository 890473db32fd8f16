"""A date of birth may not be in the future where the patient lives (their own time zone, else their
home site's), whichever way the patient is registered: the service (the model's own check, which
the admin and the FHIR server also reach), the API and the front desk's page. UTC's date is wrong
both ways: late in a New York evening it is already tomorrow, early in an Auckland morning still
yesterday. clinic.dates.birth_date_problem holds the rule."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.dates import birth_date_problem
from clinic.errors import InvalidInput
from clinic.models import Role, Site
from patients.models import Patient
from patients.services import patient_register
from tests.factories import SiteFactory, StaffFactory
from tests.web.conftest import login

# 22:00 on Monday 2 March in New York; 16:00 on Tuesday 3 March in Auckland; UTC: 03:00, 3 March.
LATE_EVENING_IN_NEW_YORK = dt.datetime(2026, 3, 3, 3, tzinfo=dt.UTC)
# 08:00 on Tuesday 3 March in Auckland; UTC (19:00) and New York (14:00) are still on 2 March.
EARLY_MORNING_IN_AUCKLAND = dt.datetime(2026, 3, 2, 19, tzinfo=dt.UTC)
TUESDAY = dt.date(2026, 3, 3)


@pytest.mark.parametrize(
    ("now", "zone", "refused"),
    [
        (LATE_EVENING_IN_NEW_YORK, "America/New_York", True),  # UTC's date would let it through
        (LATE_EVENING_IN_NEW_YORK, "Pacific/Auckland", False),
        (EARLY_MORNING_IN_AUCKLAND, "Pacific/Auckland", False),  # UTC's date would refuse it
        (EARLY_MORNING_IN_AUCKLAND, "America/New_York", True),
        (EARLY_MORNING_IN_AUCKLAND, "", True),  # no zone known: UTC
        (EARLY_MORNING_IN_AUCKLAND, "Not/AZone", True),  # the zone field reports that one; UTC here
    ],
)
def test_the_future_is_judged_where_the_patient_lives(now, zone, refused):
    problem = birth_date_problem(TUESDAY, zone=zone, now=now)
    assert (problem is not None) == refused
    if refused:
        assert problem.startswith("Date of birth cannot be in the future (today is 2 Mar 2026")


@pytest.fixture
def sites(db) -> dict[str, Site]:
    return {
        "auckland": SiteFactory(name="Auckland", time_zone="Pacific/Auckland"),
        "new_york": SiteFactory(name="New York", time_zone="America/New_York"),
    }


def _fields(site: Site, **extra) -> dict:
    return {"first_name": "Tama", "last_name": "Ngata", "date_of_birth": TUESDAY, "home_site": site, **extra}


@pytest.mark.parametrize(
    ("now", "site", "own_zone", "refused"),
    [
        (LATE_EVENING_IN_NEW_YORK, "new_york", "", True),
        (LATE_EVENING_IN_NEW_YORK, "auckland", "", False),
        (EARLY_MORNING_IN_AUCKLAND, "auckland", "", False),
        (EARLY_MORNING_IN_AUCKLAND, "auckland", "America/New_York", True),  # the patient's own zone first
        (EARLY_MORNING_IN_AUCKLAND, "new_york", "Pacific/Auckland", False),
    ],
)
def test_registering_through_the_service(sites, now, site, own_zone, refused):
    staff = StaffFactory(role=Role.FRONT_DESK, sites=list(sites.values()))
    with time_machine.travel(now, tick=False):
        fields = _fields(sites[site], time_zone=own_zone)
        if not refused:
            patient = patient_register(actor=staff.user, now=now, clinician=False, fields=fields)
            assert patient.date_of_birth == TUESDAY
            return
        with pytest.raises(InvalidInput) as caught:
            patient_register(actor=staff.user, now=now, clinician=False, fields=fields)
    assert (
        "Date of birth cannot be in the future (today is 2 Mar 2026 where the patient lives)." in caught.value.message
    )
    assert not Patient.objects.filter(last_name="Ngata").exists()


@pytest.mark.parametrize(("site", "status"), [("new_york", 400), ("auckland", 201)])
def test_registering_through_the_api(sites, site, status):
    staff = StaffFactory(role=Role.FRONT_DESK, sites=list(sites.values()))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=staff.user)[1]}")
    body = {"first_name": "Tama", "last_name": "Ngata", "date_of_birth": "2026-03-03", "home_site": sites[site].pk}
    with time_machine.travel(LATE_EVENING_IN_NEW_YORK, tick=False):
        response = client.post("/api/v1/patients/", body, format="json")
    assert response.status_code == status, response.content
    assert Patient.objects.filter(last_name="Ngata").exists() == (status == 201)
    if status == 400:
        assert "Date of birth cannot be in the future (today is 2 Mar 2026" in response.content.decode()


@pytest.mark.parametrize(
    ("site", "own_zone", "refused"),
    [("new_york", "", True), ("auckland", "", False), ("new_york", "Pacific/Auckland", False)],
)
def test_registering_on_the_front_desks_page(client, sites, site, own_zone, refused):
    staff = StaffFactory(role=Role.FRONT_DESK, sites=list(sites.values()))
    form = {
        "first_name": "Tama",
        "last_name": "Ngata",
        "date_of_birth": "2026-03-03",
        "home_site": sites[site].pk,
        "time_zone": own_zone,
        "preferred_channel": "email",
    }
    with time_machine.travel(LATE_EVENING_IN_NEW_YORK, tick=False):
        login(client, staff.user)
        response = client.post(reverse("web:patient-register"), form)
    page = response.content.decode()
    assert ("Date of birth cannot be in the future (today is 2 Mar 2026 where the patient lives)." in page) == refused
    assert Patient.objects.filter(last_name="Ngata").exists() == (not refused)
