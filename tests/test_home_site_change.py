"""A patient's evaluations are dated no later than today at the home site (evaluation_date_check), so
a new home site must not turn one into a date in the future: patients.services.patient_home_site_check
refuses the move, naming the evaluation and its date, and writes nothing. The API's patient PATCH and
the patient admin (tests/test_admin_clinical_fields.py) ask it; the staff pages register a patient but
never move one."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.errors import InvalidInput
from clinic.models import Role, Site
from patients.models import Patient
from patients.services import patient_home_site_check
from tests.factories import EvaluationFactory, PatientFactory, SiteFactory, StaffFactory

# 22:00 on Monday 2 March in New York is already 16:00 on Tuesday 3 March in Auckland.
LATE_EVENING_IN_NEW_YORK = dt.datetime(2026, 3, 3, 3, tzinfo=dt.UTC)
TODAY_IN_AUCKLAND = dt.date(2026, 3, 3)
TODAY_IN_NEW_YORK = dt.date(2026, 3, 2)
REFUSAL = (
    "'s home site cannot become New York yet: their evaluation dated 3 Mar 2026 would be in the future there "
    "(today is 2 Mar 2026 at New York)."
)


@pytest.fixture
def sites(db) -> dict[str, Site]:
    return {
        "auckland": SiteFactory(name="Auckland", time_zone="Pacific/Auckland"),
        "new_york": SiteFactory(name="New York", time_zone="America/New_York"),
    }


def _patient_evaluated_on(site: Site, evaluated_on: dt.date) -> Patient:
    patient = PatientFactory(home_site=site, evaluation=None)
    EvaluationFactory(patient=patient, evaluated_on=evaluated_on)
    return Patient.objects.select_related("home_site").get(pk=patient.pk)


# --- The service ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_site", "evaluated_on", "to_site", "allowed"),
    [
        # Dated today in Auckland, the evaluation is dated tomorrow for a New York patient.
        ("auckland", TODAY_IN_AUCKLAND, "new_york", False),
        # Today in New York is already yesterday in Auckland: past there.
        ("new_york", TODAY_IN_NEW_YORK, "auckland", True),
        ("auckland", TODAY_IN_NEW_YORK, "new_york", True),
    ],
    ids=["to a zone where its date is tomorrow", "to a zone where its date is past", "to a zone where it is today"],
)
def test_a_home_site_change_is_judged_by_the_evaluations_dates_at_the_new_site(
    sites, from_site, evaluated_on, to_site, allowed
):
    patient = _patient_evaluated_on(sites[from_site], evaluated_on)
    if allowed:
        patient_home_site_check(patient=patient, site=sites[to_site], now=LATE_EVENING_IN_NEW_YORK)
        return
    with pytest.raises(InvalidInput) as caught:
        patient_home_site_check(patient=patient, site=sites[to_site], now=LATE_EVENING_IN_NEW_YORK)
    evaluation = patient.evaluations.get()
    assert caught.value.message == (
        f"{patient.full_name}{REFUSAL} Change the home site once that date has come there, "
        "or correct the evaluation's date."
    )
    assert caught.value.details == {"field": "home_site", "evaluation_id": evaluation.pk, "evaluated_on": "2026-03-03"}


def test_the_refusal_lifts_once_the_date_has_come_at_the_new_site(sites):
    patient = _patient_evaluated_on(sites["auckland"], TODAY_IN_AUCKLAND)
    midnight_in_new_york = dt.datetime(2026, 3, 3, 5, tzinfo=dt.UTC)  # 00:00 on 3 March, EST
    with pytest.raises(InvalidInput):
        patient_home_site_check(
            patient=patient, site=sites["new_york"], now=midnight_in_new_york - dt.timedelta(seconds=1)
        )
    patient_home_site_check(patient=patient, site=sites["new_york"], now=midnight_in_new_york)


def test_the_refusal_names_the_latest_of_several_evaluations_dated_too_late(sites):
    patient = _patient_evaluated_on(sites["auckland"], dt.date(2026, 1, 10))
    EvaluationFactory(patient=patient, evaluated_on=TODAY_IN_AUCKLAND)
    with pytest.raises(InvalidInput) as caught:
        patient_home_site_check(patient=patient, site=sites["new_york"], now=LATE_EVENING_IN_NEW_YORK)
    assert caught.value.details["evaluated_on"] == "2026-03-03"


def test_the_same_home_site_is_not_a_change(sites):
    # A chart that already breaks the rule (written before it existed) does not stop other edits.
    patient = _patient_evaluated_on(sites["new_york"], TODAY_IN_AUCKLAND)
    patient_home_site_check(patient=patient, site=sites["new_york"], now=LATE_EVENING_IN_NEW_YORK)


# --- The API's patient PATCH ---------------------------------------------------------------------


def _front_desk_client(sites: dict[str, Site]) -> APIClient:
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[sites["auckland"], sites["new_york"]])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=desk.user)[1]}")
    return client


def test_the_api_refuses_a_home_site_where_an_evaluation_would_be_in_the_future_and_writes_nothing(sites):
    patient = _patient_evaluated_on(sites["auckland"], TODAY_IN_AUCKLAND)
    versions = patient.history.count()
    client = _front_desk_client(sites)
    with time_machine.travel(LATE_EVENING_IN_NEW_YORK, tick=False):
        response = client.patch(
            f"/api/v1/patients/{patient.pk}/",
            {"home_site": sites["new_york"].pk, "escort_name": "Sam Carter"},
            format="json",
        )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["details"]["field"], error["details"]["evaluated_on"]) == (
        "invalid",
        "home_site",
        "2026-03-03",
    )
    assert REFUSAL in error["message"]
    patient.refresh_from_db()
    assert (patient.home_site, patient.escort_name) == (sites["auckland"], "")
    assert patient.history.count() == versions


def test_the_api_moves_a_patient_whose_evaluations_are_past_at_the_new_site(sites):
    patient = _patient_evaluated_on(sites["new_york"], TODAY_IN_NEW_YORK)
    client = _front_desk_client(sites)
    with time_machine.travel(LATE_EVENING_IN_NEW_YORK, tick=False):
        response = client.patch(f"/api/v1/patients/{patient.pk}/", {"home_site": sites["auckland"].pk}, format="json")
    assert response.status_code == 200, response.content
    patient.refresh_from_db()
    assert patient.home_site == sites["auckland"]
