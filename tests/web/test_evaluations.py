"""Issue 20 #11: a prescriber records a mental-health evaluation (diagnosis, evaluator, date) from
the chart, with its history; other roles cannot, and a bad date is a form error. The rules that an
evaluation is not dated before 2000 nor after the clinic's today (in the home site's zone) are
the service's."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.errors import DomainError, InvalidInput
from clinic.permissions import PrescribersOnly
from patients.models import Evaluation
from patients.services import evaluation_record
from tests.web.conftest import login

GOOD = {
    "evaluated_on": "2026-02-20",
    "evaluator_name": "Dr Ruth Okafor",
    "evaluator_credentials": "MD, psychiatrist",
    "diagnosis": "Treatment-resistant major depressive disorder",
    "icd10_code": "F33.2",
}


def test_a_prescriber_records_an_evaluation_from_the_chart_and_the_history_says_who(client, web):
    patient = web.patient_a
    login(client, web.prescriber.user)
    chart = client.get(reverse("web:patient", args=[patient.pk])).content.decode()
    url = reverse("web:evaluation-new", args=[patient.pk])
    assert url in chart and "Record an evaluation" in chart
    assert client.get(url).status_code == 200
    response = client.post(url, GOOD)
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:patient", args=[patient.pk]))
    evaluation = Evaluation.objects.get(patient=patient, evaluator_name="Dr Ruth Okafor")
    assert (evaluation.evaluated_on, evaluation.diagnosis, evaluation.recorded_by) == (
        dt.date(2026, 2, 20),
        GOOD["diagnosis"],
        web.prescriber.user,
    )
    record = evaluation.history.first()
    assert (record.history_user, record.history_change_reason) == (web.prescriber.user, "Recorded from the chart")
    chart = client.get(reverse("web:patient", args=[patient.pk])).content.decode()
    assert "Treatment-resistant major depressive disorder" in chart
    assert "recorded by" in chart


@pytest.mark.parametrize("persona", ["desk", "nurse", "admin"])
def test_only_prescribers_record_evaluations(client, web, persona):
    login(client, getattr(web, persona).user)
    url = reverse("web:evaluation-new", args=[web.patient_a.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, GOOD).status_code == 403
    if persona == "nurse":
        assert url not in client.get(reverse("web:patient", args=[web.patient_a.pk])).content.decode()
    assert not Evaluation.objects.filter(evaluator_name="Dr Ruth Okafor").exists()
    with pytest.raises(DomainError):
        evaluation_record(
            patient=web.patient_a,
            actor=getattr(web, persona).user,
            fields={**GOOD, "evaluated_on": dt.date(2026, 2, 20)},
            now=dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC),
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("evaluated_on", "2026-03-01"),
        ("evaluated_on", "1999-12-31"),
        ("evaluated_on", "9999-12-31"),
        ("diagnosis", ""),
        ("systolic_bp", "400"),
        ("heart_rate", "5"),
    ],
)
def test_an_evaluation_in_the_future_without_a_diagnosis_or_with_implausible_vitals_is_a_form_error(
    client, web, field, value
):
    login(client, web.prescriber.user)
    response = client.post(reverse("web:evaluation-new", args=[web.patient_a.pk]), {**GOOD, field: value})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Evaluation.objects.filter(evaluator_name="Dr Ruth Okafor").exists()


# 22:00 on Monday 2 March in New York (the patient's home site) is already Tuesday 3 March in UTC.
LATE_EVENING_IN_NEW_YORK = dt.datetime(2026, 3, 3, 3, tzinfo=dt.UTC)


def test_the_service_takes_today_in_the_home_sites_zone_not_utc(web):
    evaluation = evaluation_record(
        patient=web.patient_a,
        actor=web.prescriber.user,
        fields={**GOOD, "evaluated_on": dt.date(2026, 3, 2)},
        now=LATE_EVENING_IN_NEW_YORK,
    )
    assert evaluation.pk is not None and evaluation.evaluated_on == dt.date(2026, 3, 2)


def test_the_service_refuses_a_date_after_the_home_sites_today_even_when_it_is_today_in_utc(web):
    with pytest.raises(InvalidInput) as caught:
        evaluation_record(
            patient=web.patient_a,
            actor=web.prescriber.user,
            fields={**GOOD, "evaluated_on": dt.date(2026, 3, 3)},
            now=LATE_EVENING_IN_NEW_YORK,
        )
    assert caught.value.details == {"field": "evaluated_on"}
    assert "3 Mar 2026 is in the future" in caught.value.message
    assert not Evaluation.objects.filter(evaluator_name="Dr Ruth Okafor").exists()
    assert not Evaluation.history.filter(evaluator_name="Dr Ruth Okafor").exists()


def test_a_refusal_from_the_service_answers_the_page_with_the_errors_own_status(client, web, monkeypatch):
    # The page's role gate stands first; should the service still refuse the actor (a role changed
    # between the two, or a gate widened by mistake), the page says 403 as the API does, not 409.
    def refuse(**kwargs):
        raise PrescribersOnly("Recording an evaluation is a prescriber's decision.")

    monkeypatch.setattr("web.patients.evaluation_record", refuse)
    login(client, web.prescriber.user)
    response = client.post(reverse("web:evaluation-new", args=[web.patient_a.pk]), GOOD)
    assert response.status_code == 403
    assert response.context["form"].non_field_errors() == ["Recording an evaluation is a prescriber's decision."]
    assert not Evaluation.objects.filter(evaluator_name="Dr Ruth Okafor").exists()


@pytest.mark.parametrize(
    ("evaluated_on", "refusal"),
    [
        # The fixtures' clock is Friday 27 Feb 2026, 10:00 in New York: the page has no rule of its own.
        ("2026-02-28", "The evaluation date 28 Feb 2026 is in the future: today is 27 Feb 2026"),
        ("1999-12-31", "The evaluation date 31 Dec 1999 is before 2000: check the year"),
    ],
    ids=["future", "before 2000"],
)
def test_a_bad_date_on_the_page_is_the_services_refusal_shown_next_to_the_date(client, web, evaluated_on, refusal):
    login(client, web.prescriber.user)
    response = client.post(
        reverse("web:evaluation-new", args=[web.patient_a.pk]), {**GOOD, "evaluated_on": evaluated_on}
    )
    assert response.status_code == 400
    [message] = response.context["form"].errors["evaluated_on"]
    assert message.startswith(refusal)
    assert not Evaluation.objects.filter(evaluator_name="Dr Ruth Okafor").exists()


def test_the_service_refuses_an_evaluation_dated_before_2000_naming_the_date(web):
    with pytest.raises(InvalidInput) as caught:
        evaluation_record(
            patient=web.patient_a,
            actor=web.prescriber.user,
            fields={**GOOD, "evaluated_on": dt.date(1999, 12, 31)},
            now=LATE_EVENING_IN_NEW_YORK,
        )
    assert caught.value.details == {"field": "evaluated_on"}
    assert caught.value.message.startswith("The evaluation date 31 Dec 1999 is before 2000: check the year")
    assert not Evaluation.objects.filter(evaluator_name="Dr Ruth Okafor").exists()
