"""Rules PostgreSQL itself holds, tested by writing around the service layer."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from scheduling.models import Appointment, AppointmentStatus
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory, PlanFactory

T0 = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def _constraint_name(exc: IntegrityError) -> str:
    return exc.__cause__.diag.constraint_name


@pytest.mark.django_db
def test_database_refuses_two_patients_in_one_chair_at_once():
    chair = ChairFactory()
    AppointmentFactory(chair=chair, starts_at=T0, ends_at=T0 + 2 * HOUR)
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        AppointmentFactory(chair=chair, starts_at=T0 + HOUR, ends_at=T0 + 3 * HOUR)
    assert _constraint_name(caught.value) == "appointment_no_chair_overlap"


@pytest.mark.django_db
def test_database_refuses_one_patient_in_two_chairs_at_once():
    patient = PatientFactory()
    AppointmentFactory(patient=patient, starts_at=T0, ends_at=T0 + 2 * HOUR)
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        AppointmentFactory(patient=patient, starts_at=T0 + HOUR, ends_at=T0 + 3 * HOUR)
    assert _constraint_name(caught.value) == "appointment_no_patient_overlap"


@pytest.mark.django_db
def test_back_to_back_sessions_in_one_chair_are_allowed():
    chair = ChairFactory()
    AppointmentFactory(chair=chair, starts_at=T0, ends_at=T0 + 2 * HOUR)
    AppointmentFactory(chair=chair, starts_at=T0 + 2 * HOUR, ends_at=T0 + 4 * HOUR)
    assert Appointment.objects.filter(chair=chair).count() == 2


@pytest.mark.django_db
def test_a_cancelled_session_frees_its_chair():
    chair = ChairFactory()
    first = AppointmentFactory(chair=chair, starts_at=T0, ends_at=T0 + 2 * HOUR)
    Appointment.objects.filter(pk=first.pk).update(status=AppointmentStatus.CANCELLED, cancelled_at=T0)
    AppointmentFactory(chair=chair, starts_at=T0, ends_at=T0 + 2 * HOUR)


@pytest.mark.django_db
def test_database_refuses_an_appointment_ending_before_it_starts():
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        AppointmentFactory(starts_at=T0, ends_at=T0 - HOUR)
    assert _constraint_name(caught.value) == "appointment_starts_before_end"


@pytest.mark.django_db
def test_database_refuses_a_second_active_session_with_the_same_number():
    plan = PlanFactory()
    AppointmentFactory(patient=plan.patient, plan=plan, sequence=1, starts_at=T0, ends_at=T0 + 2 * HOUR)
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        AppointmentFactory(
            patient=plan.patient, plan=plan, sequence=1, starts_at=T0 + 48 * HOUR, ends_at=T0 + 50 * HOUR
        )
    assert _constraint_name(caught.value) == "appointment_one_sequence_per_plan"


@pytest.mark.django_db
def test_database_refuses_a_second_open_plan_for_one_patient():
    plan = PlanFactory()
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        PlanFactory(patient=plan.patient, prescriber=plan.prescriber)
    assert _constraint_name(caught.value) == "plan_one_open_per_patient"


@pytest.mark.django_db
def test_overlap_constraints_are_exclusion_constraints_in_postgresql():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'x' AND conrelid = 'scheduling_appointment'::regclass"
        )
        names = {row[0] for row in cursor.fetchall()}
    assert names == {"appointment_no_chair_overlap", "appointment_no_patient_overlap"}
