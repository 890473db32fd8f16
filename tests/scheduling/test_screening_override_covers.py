"""A screening override is for what screening said when the prescriber gave it: a reason found later
(a new flag, seizures reported, a blood pressure over the limit at a new evaluation) stops booking
again until a prescriber overrides that too."""

from __future__ import annotations

import datetime as dt

import pytest

from patients.models import Contraindication, Evaluation, PatientFlag
from scheduling import services
from scheduling.errors import InvalidState, NotEligible
from scheduling.models import TreatmentPlan
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, START

pytestmark = pytest.mark.django_db


def _unscreened_plan(clinic):
    patient = PatientFactory(home_site=clinic.site, evaluation=None)
    return clinic.plan(patient=patient)


def _override(plan, clinic, reason="Evaluated at the referring hospital; letter on file"):
    return services.plan_override_eligibility(plan=plan, reason=reason, actor=clinic.prescriber.user, now=NOW)


def test_the_override_records_the_reasons_it_was_given_for(clinic):
    plan = _override(_unscreened_plan(clinic), clinic)
    assert TreatmentPlan.objects.get(pk=plan.pk).eligibility_override_covers == ["evaluation"]


def test_a_reason_found_after_the_override_stops_booking_until_a_new_override(clinic):
    plan = _override(_unscreened_plan(clinic), clinic)
    psychosis = Contraindication.objects.create(code="psychosis", label="Active psychosis", kind="flag")
    PatientFlag.objects.create(patient=plan.patient, contraindication=psychosis, recorded_by=clinic.prescriber.user)

    with pytest.raises(NotEligible, match="found something new since the prescriber's override") as refused:
        services.course_book(plan=plan, actor=clinic.prescriber.user, now=NOW, start_date=START)
    # Only the new reason is named: the missing evaluation was overridden.
    assert refused.value.details["reasons"] == ["Active psychosis."]
    assert not plan.appointments.exists()

    _override(TreatmentPlan.objects.get(pk=plan.pk), clinic, reason="Psychiatry reviewed; remission documented")
    assert len(services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)) == 6


def test_a_new_reading_over_the_limit_is_the_same_reason_as_the_one_overridden(clinic):
    """The override is per rule: a re-measured blood pressure still over the same limit was decided on."""
    Contraindication.objects.create(code="bp", label="Blood pressure", kind="max_systolic", threshold=160)
    patient = PatientFactory(home_site=clinic.site)
    Evaluation.objects.filter(patient=patient).update(systolic_bp=165)
    plan = _override(clinic.plan(patient=patient), clinic, reason="White-coat hypertension; home readings normal")
    evaluation = Evaluation.objects.filter(patient=patient).get()
    evaluation.pk, evaluation.systolic_bp = None, 170
    evaluation.evaluated_on = evaluation.evaluated_on + dt.timedelta(days=1)
    evaluation.save()
    assert len(services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)) == 6


def test_there_is_nothing_to_override_when_screening_allows_treatment(clinic):
    plan = clinic.plan(patient=PatientFactory(home_site=clinic.site))
    with pytest.raises(InvalidState, match="nothing to override"):
        _override(plan, clinic)
    assert TreatmentPlan.objects.get(pk=plan.pk).eligibility_override_by is None


def test_an_override_recorded_before_overrides_named_their_reasons_still_covers_them_all(clinic):
    plan = _override(_unscreened_plan(clinic), clinic)
    TreatmentPlan.objects.filter(pk=plan.pk).update(eligibility_override_covers=None)
    psychosis = Contraindication.objects.create(code="psychosis", label="Active psychosis", kind="flag")
    PatientFlag.objects.create(patient=plan.patient, contraindication=psychosis, recorded_by=clinic.prescriber.user)
    assert len(services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)) == 6
