"""Rows the database benchmarks share: bench patients in bulk, and a patient evaluated and
ready for a plan. Call after django.setup() (the models are imported inside)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from clinic.models import Site, StaffMember
    from patients.models import Patient


def bench_patients(
    site: Site,
    count: int,
    *,
    last_name: str,
    email: str,
    reminder_consent: bool = False,
    batch_size: int | None = None,
    evaluated_by: AbstractBaseUser | None = None,
) -> list[Patient]:
    """`count` patients of `site` in one bulk insert; `last_name` and `email` are formats of the index.
    With `evaluated_by`, each has the mental-health evaluation on file that screening asks for
    before any session is booked (scheduling.services.eligibility), recorded by that user."""
    from patients.models import Evaluation, Patient

    patients = Patient.objects.bulk_create(
        (
            Patient(
                first_name="Bench",
                last_name=last_name.format(i),
                date_of_birth=dt.date(1980, 1, 1),
                home_site=site,
                email=email.format(i),
                reminder_consent=reminder_consent,
            )
            for i in range(count)
        ),
        batch_size=batch_size,
    )
    if evaluated_by is not None:
        Evaluation.objects.bulk_create(
            (
                Evaluation(
                    patient=patient,
                    evaluated_on=dt.date(2025, 12, 1),
                    evaluator_name="Dr. Bench",
                    diagnosis="TRD",
                    recorded_by=evaluated_by,
                )
                for patient in patients
            ),
            batch_size=batch_size,
        )
    return patients


def evaluated_patient(
    site: Site, prescriber: StaffMember, *, first_name: str, last_name: str, start: dt.date
) -> Patient:
    """A new patient with the evaluation a plan starting on `start` needs (20 days before it)."""
    from patients.models import Evaluation, Patient

    patient = Patient.objects.create(
        first_name=first_name, last_name=last_name, date_of_birth=dt.date(1990, 5, 5), home_site=site
    )
    Evaluation.objects.create(
        patient=patient,
        evaluated_on=start - dt.timedelta(days=20),
        evaluator_name="Dr. Bench",
        diagnosis="TRD",
        recorded_by=prescriber.user,
    )
    return patient
