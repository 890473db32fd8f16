"""Registration through the API keeps one chart per person; odd input (bytes, NUL, lone surrogates,
a zone that names a folder) is a clear 4xx; a site's administrator changes only their own staff."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from rest_framework.test import APIClient

from clinic.errors import DomainError
from clinic.models import StaffMember
from patients.models import Patient
from patients.services import patient_register
from tests.api.conftest import NOW, World, build_world

V1 = "/api/v1"


def _register_body(world: World, **changes) -> dict:
    body = {"first_name": "Dana", "last_name": "Ostrander", "date_of_birth": "1979-04-02", "home_site": world.site.pk}
    return {**body, **changes}


# --- 1. Duplicate charts ------------------------------------------------------------------------


def test_api_registration_refuses_a_second_chart_for_the_same_person(world):
    """POST /api/v1/patients/ registers through patient_register, as the page and FHIR do: the same
    name and date of birth (names trimmed) is refused with 409, not a second chart."""
    client = world.client("front_desk")
    first = client.post(f"{V1}/patients/", _register_body(world), format="json")
    assert first.status_code == 201, first.content
    again = client.post(f"{V1}/patients/", _register_body(world, first_name=" dana "), format="json")
    assert again.status_code == 409, again.content[:300]
    assert Patient.objects.filter(last_name="Ostrander", date_of_birth=dt.date(1979, 4, 2)).count() == 1


def test_registration_refuses_the_same_name_typed_in_decomposed_unicode(world):
    """ "José" typed as one code point (NFC) or as e + a combining accent (NFD) is one name."""
    actor = world.users["front_desk"]
    fields = {"first_name": "José", "last_name": "Núñez", "date_of_birth": dt.date(1979, 4, 2), "home_site": world.site}
    patient_register(actor=actor, now=NOW, clinician=False, fields=dict(fields))
    decomposed = {
        **fields,
        "first_name": unicodedata.normalize("NFD", "José"),
        "last_name": unicodedata.normalize("NFD", "Núñez"),
    }
    with pytest.raises(DomainError):
        patient_register(actor=actor, now=NOW, clinician=False, fields=decomposed)


# --- 2. 500s on bad input ---------------------------------------------------------------------------


def test_token_header_with_a_byte_that_is_not_utf8_is_401_not_500(world):
    """A byte that is not ASCII in the Authorization header is a bad token (401), not a 500."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token \xe9abcdef")
    response = client.get(f"{V1}/appointments/")
    assert response.status_code == 401


def test_calendar_feed_with_a_nul_in_the_token_is_404_not_500(db, client):
    """A token outside token_urlsafe's alphabet (a NUL) is a 404 like any bad token, before any query."""
    response = client.get("/calendar/ab%00cd.ics")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("patients", '{"first\\ud800": "Dana"}'),  # an unknown field named with a lone surrogate
        ("appointments", '{"phase": "x\\ud800"}'),  # a choice field echoing the bad value
    ],
    ids=["unknown-key", "choice-value"],
)
def test_a_lone_surrogate_echoed_in_an_error_is_400_not_500(world, path, raw):
    """A lone surrogate (JSON's "\\ud800") is refused like a control character, and the 400 can be
    encoded (the bad key is shown with U+FFFD)."""
    response = world.client("front_desk").generic("POST", f"{V1}/{path}/", raw, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("zone", ["America", "US"])
def test_a_time_zone_naming_a_tzdata_folder_is_400_not_500(world, zone):
    """ZoneInfo("America") raises IsADirectoryError: the zone is refused as unknown (400 on the field)."""
    response = world.client("front_desk").post(f"{V1}/patients/", _register_body(world, time_zone=zone), format="json")
    assert response.status_code == 400
    assert "time_zone" in response.json()["error"]["fields"]


# --- 3. A site's administrator changing clinic-wide staff --------------------------------------------


@pytest.fixture
def world2(db, frozen):
    return build_world(two_sites=True)


def test_a_site_administrator_cannot_make_a_clinic_wide_prescriber_a_clinic_wide_administrator(world2):
    """A role holds at every site the member works at: an administrator of site 1 only cannot change
    a clinic-wide member's role (which would make a clinic-wide administrator)."""
    wide = StaffMember.objects.get(user=world2.users["wide_prescriber"])
    response = world2.client("clinic_admin").patch(f"{V1}/staff/{wide.pk}/", {"role": "clinic_admin"}, format="json")
    wide.refresh_from_db()
    assert (response.status_code, wide.role) != (200, "clinic_admin")
    assert wide.role == "prescriber"


def test_a_site_administrator_cannot_deactivate_the_clinic_wide_administrator(world2):
    """Nor lock the clinic-wide administrator out of every site."""
    wide = StaffMember.objects.get(user=world2.users["wide_admin"])
    world2.client("clinic_admin").patch(f"{V1}/staff/{wide.pk}/", {"active": False}, format="json")
    wide.refresh_from_db()
    assert wide.active
