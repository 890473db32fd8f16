"""factory_boy factories for the whole domain."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from clinic.models import Chair, OpeningHours, ReminderPolicy, Role, Route, Shift, Site, StaffMember
from patients.models import Evaluation, Patient
from scheduling.models import Appointment, Protocol, TreatmentPlan

User = get_user_model()
PASSWORD = "correct-horse-battery"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class SiteFactory(DjangoModelFactory):
    class Meta:
        model = Site
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Site {n}")
    time_zone = "America/New_York"
    address = "12 Main Street, Springfield"
    phone = "+12025550143"
    # The tests written before level-loading pin the earliest policy's choices; tests of the
    # level policy ask for it (tests/scheduling/test_placement*.py).
    placement_policy = "earliest"

    @factory.post_generation
    def hours(obj, create, extracted, **kwargs):
        """Open Monday–Friday 08:00–18:00 unless `hours=` gives {weekday: (opens, closes)}."""
        if not create:
            return
        plan = extracted if extracted is not None else {d: (dt.time(8), dt.time(18)) for d in range(5)}
        OpeningHours.objects.bulk_create(
            OpeningHours(site=obj, weekday=day, opens_at=opens, closes_at=closes)
            for day, (opens, closes) in plan.items()
        )
        ReminderPolicy.objects.get_or_create(site=obj)  # created with the site (clinic.signals)


class ChairFactory(DjangoModelFactory):
    class Meta:
        model = Chair

    site = factory.SubFactory(SiteFactory)
    name = factory.Sequence(lambda n: f"Chair {n}")
    equipment = factory.LazyFunction(lambda: [Route.IV, Route.INTRANASAL])


class StaffFactory(DjangoModelFactory):
    class Meta:
        model = StaffMember
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    role = Role.NURSE

    @factory.post_generation
    def sites(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.sites.set(extracted)


class ShiftFactory(DjangoModelFactory):
    class Meta:
        model = Shift

    staff = factory.SubFactory(StaffFactory)
    site = factory.SubFactory(SiteFactory)
    starts_at = factory.LazyFunction(lambda: dt.datetime(2026, 3, 2, 13, tzinfo=dt.UTC))
    ends_at = factory.LazyAttribute(lambda s: s.starts_at + dt.timedelta(hours=10))


class EvaluationFactory(DjangoModelFactory):
    class Meta:
        model = Evaluation

    patient = None
    evaluated_on = dt.date(2026, 1, 10)
    evaluator_name = "Dr. Rivera"
    evaluator_credentials = "MD, psychiatrist"
    diagnosis = "Treatment-resistant major depressive disorder"
    icd10_code = "F33.2"
    systolic_bp = 124
    diastolic_bp = 78
    heart_rate = 72
    recorded_by = factory.SubFactory(UserFactory)


class PatientFactory(DjangoModelFactory):
    """A screened adult with an evaluation on file; `evaluation=None` leaves it out."""

    class Meta:
        model = Patient
        skip_postgeneration_save = True

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = dt.date(1985, 6, 15)
    email = factory.LazyAttribute(lambda p: f"{p.first_name.lower()}.{p.last_name.lower()}@example.org")
    mobile_phone = "+12025550199"
    home_site = factory.SubFactory(SiteFactory)
    reminder_consent = True
    evaluation = factory.RelatedFactory(EvaluationFactory, factory_related_name="patient")


class ProtocolFactory(DjangoModelFactory):
    """Six sessions within 21 days, at least 48 h apart; `weekly` gives 3-2-1-1-1."""

    class Meta:
        model = Protocol
        django_get_or_create = ("name",)

    name = "IV ketamine, six in three weeks"
    route = Route.IV
    session_minutes = 120
    infusion_minutes = 40
    induction_pattern = Protocol.InductionPattern.WINDOW
    induction_sessions = 6
    induction_window_days = 21
    min_gap_hours = 48

    class Params:
        weekly = factory.Trait(
            name="IV ketamine, 3-2-1-1-1",
            induction_pattern=Protocol.InductionPattern.WEEKLY,
            induction_sessions=None,
            induction_window_days=None,
            weekly_counts=[3, 2, 1, 1, 1],
            min_gap_hours=24,
        )


class PlanFactory(DjangoModelFactory):
    class Meta:
        model = TreatmentPlan

    patient = factory.SubFactory(PatientFactory)
    protocol = factory.SubFactory(ProtocolFactory)
    prescriber = factory.SubFactory(StaffFactory, role=Role.PRESCRIBER)
    site = factory.SelfAttribute("patient.home_site")
    start_date = dt.date(2026, 3, 2)
    maintenance_interval_days = 28
    review_date = factory.LazyAttribute(lambda p: p.start_date + dt.timedelta(days=182))
    created_by = factory.SelfAttribute("prescriber.user")


class AppointmentFactory(DjangoModelFactory):
    class Meta:
        model = Appointment

    patient = factory.SubFactory(PatientFactory)
    site = factory.SelfAttribute("chair.site")
    chair = factory.SubFactory(ChairFactory)
    starts_at = factory.LazyFunction(lambda: dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC))
    ends_at = factory.LazyAttribute(lambda a: a.starts_at + dt.timedelta(hours=2))


@dataclass
class Personas:
    site: Site
    front_desk: StaffMember
    nurse: StaffMember
    prescriber: StaffMember
    clinic_admin: StaffMember
    patient_a: Patient
    patient_b: Patient


def make_personas(site: Site) -> Personas:
    def staff(username: str, role: Role) -> StaffMember:
        return StaffFactory(user=UserFactory(username=username), role=role, sites=[site])

    def patient(username: str, first: str) -> Patient:
        return PatientFactory(user=UserFactory(username=username, first_name=first), first_name=first, home_site=site)

    return Personas(
        site=site,
        front_desk=staff("frontdesk", Role.FRONT_DESK),
        nurse=staff("nurse", Role.NURSE),
        prescriber=staff("prescriber", Role.PRESCRIBER),
        clinic_admin=staff("clinicadmin", Role.CLINIC_ADMIN),
        patient_a=patient("patient_a", "Alice"),
        patient_b=patient("patient_b", "Bob"),
    )
