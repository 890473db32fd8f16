"""A list filter that names a row (`?patient=`, `?chair=`, `?site=`) accepts only rows the asker
may see: another site's id, or another patient's, is the same 400 as an id that does not exist,
so a filter cannot tell whether an id is in use elsewhere. Clinic-wide staff filter by any site's id.

Each filter is tried as a site-1 persona with the second site's row, with a missing id and with
the first site's row; then as a clinic-wide persona with the second site's row."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine

from tests.api.conftest import NOW, Side, World

V1 = "/api/v1"
MISSING = 999_999_999


@dataclass(frozen=True)
class Case:
    path: str
    param: str
    role: str  # a site-1 persona whose role reads the list
    wide_role: str  # a clinic-wide persona with the same right
    value: Callable[[Side], int]  # the id of one of `side`'s rows
    row_key: str  # where a listed row carries that id (a list of ids, or one)
    everywhere_key: str | None = None  # a row with this flag set carries every id (clinic-wide staff)

    @property
    def id(self) -> str:
        return f"{self.path}-{self.param}"


DESK = ("front_desk", "wide_prescriber")
CLINICIANS = ("nurse", "wide_prescriber")
ADMINS = ("clinic_admin", "wide_admin")

CASES = [
    Case("chairs", "site", *DESK, lambda s: s.site.pk, "site"),
    Case("staff", "site", *DESK, lambda s: s.site.pk, "sites", everywhere_key="all_sites"),
    Case("opening-hours", "site", *DESK, lambda s: s.site.pk, "site"),
    Case("closures", "site", *DESK, lambda s: s.site.pk, "site"),
    Case("shifts", "site", *DESK, lambda s: s.site.pk, "site"),
    Case("shifts", "staff", *DESK, lambda s: s.shift.staff_id, "staff"),
    Case("reminder-policies", "site", *ADMINS, lambda s: s.site.pk, "site"),
    Case("patients", "home_site", *DESK, lambda s: s.site.pk, "home_site"),
    Case("evaluations", "patient", *CLINICIANS, lambda s: s.evaluation_b.patient_id, "patient"),
    Case("patient-flags", "patient", *CLINICIANS, lambda s: s.flag_b.patient_id, "patient"),
    Case("plans", "patient", *DESK, lambda s: s.plan_b.patient_id, "patient"),
    Case("plans", "site", *DESK, lambda s: s.plan_b.site_id, "site"),
    Case("appointments", "patient", *DESK, lambda s: s.checked_in_b.patient_id, "patient"),
    Case("appointments", "plan", *DESK, lambda s: s.plan_b.pk, "plan"),
    Case("appointments", "site", *DESK, lambda s: s.site.pk, "site"),
    Case("appointments", "chair", *DESK, lambda s: s.checked_in_b.chair_id, "chair"),
    Case("appointments", "nurse", *DESK, lambda s: s.checked_in_b.nurse_id, "nurse"),
    Case("questionnaire-responses", "patient", *CLINICIANS, lambda s: s.response_b.patient_id, "patient"),
    Case("reminders", "appointment", *DESK, lambda s: s.reminder_b.appointment_id, "appointment"),
]


@pytest.fixture
def world(module_world, db):
    with time_machine.travel(NOW, tick=False):
        yield module_world


def _get(world: World, role: str, path: str, query: str = ""):
    return world.client(role).get(f"{V1}/{path}/?limit=200{query}")


def _ids(row: dict[str, Any], key: str) -> set[int]:
    value = row[key]
    if isinstance(value, dict):  # a nested summary of the related row
        return {value["id"]}
    if isinstance(value, list):
        return {item["id"] if isinstance(item, dict) else item for item in value}
    return {value}


def _assert_filters_to(world: World, role: str, case: Case, value: int) -> None:
    """The filtered list is 200 and holds exactly the unfiltered list's rows carrying `value`."""
    response = _get(world, role, case.path, f"&{case.param}={value}")
    assert response.status_code == 200, response.content[:500]
    everything = _get(world, role, case.path).json()["results"]
    expected = {
        row["id"]
        for row in everything
        if value in _ids(row, case.row_key) or (case.everywhere_key is not None and row[case.everywhere_key])
    }
    assert expected, f"the fixture has no {case.path} row with {case.row_key}={value} for {role}"
    assert {row["id"] for row in response.json()["results"]} == expected


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_another_sites_id_is_refused_like_a_missing_one_and_the_own_sites_filters(world, case: Case):
    other = _get(world, case.role, case.path, f"&{case.param}={case.value(world.two)}")
    missing = _get(world, case.role, case.path, f"&{case.param}={MISSING}")
    assert missing.status_code == 400
    assert (other.status_code, other.json()) == (400, missing.json())
    assert set(other.json()["error"]) == {"code", "message", "fields", "details"}
    _assert_filters_to(world, case.role, case, case.value(world))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_clinic_wide_staff_filter_by_any_sites_id(world, case: Case):
    _assert_filters_to(world, case.wide_role, case, case.value(world.two))
    _assert_filters_to(world, case.wide_role, case, case.value(world))


# Patient A (site 1) against patient B, who is at the same site: a patient's filters name only their own rows.
PATIENT_CASES = [
    pytest.param("appointments", "patient", lambda w: w.checked_in_b.patient_id, id="appointments-patient"),
    pytest.param("appointments", "plan", lambda w: w.plan_b.pk, id="appointments-plan"),
    pytest.param("plans", "patient", lambda w: w.plan_b.patient_id, id="plans-patient"),
    pytest.param("reminders", "appointment", lambda w: w.reminder_b.appointment_id, id="reminders-appointment"),
    pytest.param(
        "questionnaire-responses", "patient", lambda w: w.response_b.patient_id, id="questionnaire-responses-patient"
    ),
]


@pytest.mark.parametrize(("path", "param", "value"), PATIENT_CASES)
def test_another_patients_id_is_refused_to_a_patient_like_a_missing_one(world, path: str, param: str, value):
    other = _get(world, "patient_a", path, f"&{param}={value(world)}")
    missing = _get(world, "patient_a", path, f"&{param}={MISSING}")
    assert missing.status_code == 400
    assert (other.status_code, other.json()) == (400, missing.json())


def test_a_patient_filters_their_own_appointments_by_their_own_id(world):
    own = world.appointment_a
    response = _get(world, "patient_a", "appointments", f"&patient={own.patient_id}")
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert own.pk in ids
    assert all(row["patient"] == own.patient_id for row in response.json()["results"])


def test_the_browsable_apis_filter_form_offers_only_the_askers_sites_rows(world):
    # The form lists every choice of every filter, named in the query or not: patient names included.
    page = world.client("front_desk").get(f"{V1}/appointments/", HTTP_ACCEPT="text/html").content.decode()
    patients = re.search(r'<select name="patient".*?</select>', page, re.DOTALL)
    assert patients is not None, "the form has no patient filter"
    own, other = world.plan_b.patient, world.two.plan_b.patient
    assert f'value="{own.pk}"' in patients.group()
    assert f'value="{other.pk}"' not in patients.group()
    assert str(other) not in page
