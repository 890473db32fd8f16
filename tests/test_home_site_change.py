"""A patient's evaluations are dated no later than today at the home site (evaluation_date_check), so
a new home site must not turn one into a date in the future: patients.services.patient_home_site_check
refuses the move, naming the evaluation and its date, and writes nothing. The API's patient PATCH and
the patient admin (tests/test_admin_clinical_fields.py) ask it; the staff pages register a patient but
never move one. The check and evaluation_record lock the patient's row, so a move and an evaluation
recorded at the same moment take turns on PostgreSQL (the races at the end)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

import pytest
import time_machine
from django.db import connection, connections, transaction
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.errors import InvalidInput
from clinic.models import Role, Site
from patients.models import Evaluation, Patient
from patients.services import evaluation_record, patient_home_site_check
from tests.factories import EvaluationFactory, PatientFactory, SiteFactory, StaffFactory

# 22:00 on Monday 2 March in New York is already 16:00 on Tuesday 3 March in Auckland.
LATE_EVENING_IN_NEW_YORK = dt.datetime(2026, 3, 3, 3, tzinfo=dt.UTC)
TODAY_IN_AUCKLAND = dt.date(2026, 3, 3)
TODAY_IN_NEW_YORK = dt.date(2026, 3, 2)
REFUSAL = (
    "'s home site cannot become New York yet: their evaluation dated 3 Mar 2026 would be in the future there "
    "(today is 2 Mar 2026 at New York)."
)
EVALUATION = {
    "evaluator_name": "Dr Ruth Okafor",
    "evaluator_credentials": "MD, psychiatrist",
    "diagnosis": "Treatment-resistant major depressive disorder",
}


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


def test_an_evaluation_is_judged_at_the_home_site_as_it_stands_not_as_the_caller_read_it(sites):
    prescriber = StaffFactory(role=Role.PRESCRIBER, sites=[sites["auckland"], sites["new_york"]])
    patient = PatientFactory(home_site=sites["auckland"], evaluation=None)
    read_before_the_move = Patient.objects.select_related("home_site").get(pk=patient.pk)
    Patient.objects.filter(pk=patient.pk).update(home_site=sites["new_york"])
    with pytest.raises(InvalidInput) as caught:
        evaluation_record(
            patient=read_before_the_move,
            actor=prescriber.user,
            now=LATE_EVENING_IN_NEW_YORK,
            fields=EVALUATION | {"evaluated_on": TODAY_IN_AUCKLAND},
        )
    assert "today is 2 Mar 2026 at New York" in caught.value.message
    assert not Evaluation.objects.filter(patient=patient).exists()


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


# --- Races on PostgreSQL: a move and an evaluation at the same moment take turns -----------------


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _waits_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def _in_turns(first: Callable[[], None], second: Callable[[], object]) -> list[object]:
    """Runs `first` in a transaction that stays open until `second` (in another thread and connection)
    waits for a lock or has finished, then commits it; returns what `second` returned or raised."""
    first_done, commit = threading.Event(), threading.Event()
    second_pid: list[int] = []
    outcome: list[object] = []
    errors: list[BaseException] = []

    def run_first() -> None:
        try:
            with transaction.atomic():
                first()
                first_done.set()
                assert commit.wait(30), "the second step never started"
        except BaseException as exc:
            errors.append(exc)
            first_done.set()
        finally:
            connections.close_all()

    def run_second() -> None:
        try:
            assert first_done.wait(30)
            second_pid.append(_backend_pid())
            try:
                outcome.append(second())
            except InvalidInput as exc:
                outcome.append(exc)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not outcome and not errors:
        if second_pid and _waits_for_a_lock(second_pid[0]):
            break
        time.sleep(0.02)
    commit.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return outcome


@pytest.mark.django_db(transaction=True)
def test_an_evaluation_recorded_while_the_patient_moves_waits_and_is_judged_at_the_new_site():
    auckland = SiteFactory(name="Auckland", time_zone="Pacific/Auckland")
    new_york = SiteFactory(name="New York", time_zone="America/New_York")
    prescriber = StaffFactory(role=Role.PRESCRIBER, sites=[auckland, new_york])
    patient = PatientFactory(home_site=auckland, evaluation=None)
    chart_page_read = Patient.objects.select_related("home_site").get(pk=patient.pk)  # before the move

    def move() -> None:
        moving = Patient.objects.get(pk=patient.pk)
        patient_home_site_check(patient=moving, site=new_york, now=LATE_EVENING_IN_NEW_YORK)
        moving.home_site = new_york
        moving.save(update_fields=["home_site", "updated_at"])

    def record() -> Evaluation:
        return evaluation_record(
            patient=chart_page_read,
            actor=prescriber.user,
            now=LATE_EVENING_IN_NEW_YORK,
            fields=EVALUATION | {"evaluated_on": TODAY_IN_AUCKLAND},
        )

    [outcome] = _in_turns(move, record)
    assert isinstance(outcome, InvalidInput), outcome
    assert "3 Mar 2026 is in the future: today is 2 Mar 2026 at New York" in outcome.message
    assert Patient.objects.get(pk=patient.pk).home_site == new_york
    assert not Evaluation.objects.filter(patient=patient).exists()


@pytest.mark.django_db(transaction=True)
def test_a_move_asked_while_an_evaluation_is_recorded_waits_and_sees_it():
    auckland = SiteFactory(name="Auckland", time_zone="Pacific/Auckland")
    new_york = SiteFactory(name="New York", time_zone="America/New_York")
    prescriber = StaffFactory(role=Role.PRESCRIBER, sites=[auckland, new_york])
    patient = PatientFactory(home_site=auckland, evaluation=None)

    def record() -> None:
        evaluation_record(
            patient=patient,
            actor=prescriber.user,
            now=LATE_EVENING_IN_NEW_YORK,
            fields=EVALUATION | {"evaluated_on": TODAY_IN_AUCKLAND},
        )

    def move() -> None:
        with transaction.atomic():
            moving = Patient.objects.get(pk=patient.pk)
            patient_home_site_check(patient=moving, site=new_york, now=LATE_EVENING_IN_NEW_YORK)
            moving.home_site = new_york
            moving.save(update_fields=["home_site", "updated_at"])

    [outcome] = _in_turns(record, move)
    assert isinstance(outcome, InvalidInput), outcome
    assert outcome.details["evaluated_on"] == "2026-03-03"
    assert Patient.objects.get(pk=patient.pk).home_site == auckland
    assert Evaluation.objects.filter(patient=patient, evaluated_on=TODAY_IN_AUCKLAND).exists()
