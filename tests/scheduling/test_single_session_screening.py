"""A session booked without a plan is still a ketamine infusion: the screening that stops a course
stops it too (../shared/domain.md, "Who should not be booked without a clinician's documented
decision"). It has no plan to carry a prescriber's override, so it is refused, and nothing is
booked; the front desk is told only that a prescriber must decide, a clinician why."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.errors import NotEligible
from scheduling.models import Appointment
from scheduling.services import appointment_book
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

AT = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)


def one_off(clinic, patient, actor):
    return appointment_book(
        patient=patient, site=clinic.site, starts_at=AT, actor=actor, now=NOW, chair=clinic.chairs[0]
    )


def test_an_unscreened_patient_gets_no_single_session_and_the_desk_is_not_told_why(clinic):
    patient = PatientFactory(home_site=clinic.site, evaluation=None)
    with pytest.raises(NotEligible) as refused:
        one_off(clinic, patient, clinic.front_desk.user)
    assert "prescriber's decision" in refused.value.message and "evaluation" not in refused.value.message
    assert not Appointment.objects.filter(patient=patient).exists()


def test_a_clinician_is_told_why_a_single_session_is_refused(clinic):
    patient = PatientFactory(home_site=clinic.site, evaluation=None)
    with pytest.raises(NotEligible) as refused:
        one_off(clinic, patient, clinic.prescriber.user)
    assert refused.value.details["reasons"] == ["No mental-health evaluation with a diagnosis is on file."]
    assert not Appointment.objects.filter(patient=patient).exists()


def test_a_screened_patient_is_booked_a_single_session(clinic):
    patient = PatientFactory(home_site=clinic.site)
    assert one_off(clinic, patient, clinic.front_desk.user).plan_id is None


def test_a_flag_recorded_after_the_course_began_stops_the_next_session_of_the_plan_until_an_override(clinic):
    """Every session of a plan is screened, not only its first: a flag recorded since the course
    began needs a prescriber's override before the desk books another session in it."""
    from patients.models import Contraindication, PatientFlag
    from scheduling.services import plan_override_eligibility
    from tests.scheduling.conftest import at_new_york, start_plus

    plan = clinic.plan()
    clinic.book(plan, [at_new_york(start_plus(0), 10)])
    rule = Contraindication.objects.create(label="Active psychosis", code="psychosis-x", kind="flag")
    PatientFlag.objects.create(patient=plan.patient, contraindication=rule, recorded_by=clinic.prescriber.user)
    with pytest.raises(NotEligible):
        clinic.book(plan, [at_new_york(start_plus(2), 10)])
    plan.refresh_from_db()
    plan_override_eligibility(plan=plan, reason="Psychiatrist's letter on file", actor=clinic.prescriber.user, now=NOW)
    [booked] = clinic.book(plan, [at_new_york(start_plus(2), 10)])
    assert booked.plan_id == plan.pk
