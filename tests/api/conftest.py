"""A staffed clinic with every persona and a token for each, frozen before the clinic's first day.

Patient B owns the objects the detail endpoints are tried on, so patient A reaching them
must answer 404 exactly like an id that does not exist.

`build_world(two_sites=True)` adds a second site with the same set of objects (`world.two`),
none of whose staff are personas, and two clinic-wide personas (`all_sites`): the site-1
personas must get 404 on every site-2 object, the clinic-wide ones must see both."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import factory.random
import pytest
import time_machine
from django.db import transaction
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.models import Chair, Closure, OpeningHours, ReminderPolicy, Role, Shift
from clinical.models import ControlledSubstanceEntry
from measures.models import QuestionnaireResponse, Source
from measures.services import questionnaire_submit
from patients.models import Contraindication, Evaluation, PatientFlag
from scheduling.models import Appointment, AppointmentStatus, Reminder, TreatmentPlan
from scheduling.services import appointment_book, course_book
from tests.clinical_helpers import record_session_for_completion
from tests.conftest import built_for_the_test
from tests.factories import (
    AppointmentFactory,
    ChairFactory,
    PatientFactory,
    SiteFactory,
    StaffFactory,
    UserFactory,
    make_personas,
)
from tests.scheduling.conftest import NOW, START, Clinic, add_shifts, make_clinic

ROLES = ["anonymous", "outsider", "front_desk", "nurse", "prescriber", "clinic_admin", "patient_a", "patient_b"]
# Clinic-wide personas (StaffMember.all_sites) and the role whose rights they have.
WIDE_ROLES = {"wide_prescriber": "prescriber", "wide_admin": "clinic_admin"}


@dataclass
class Side:
    """One site's objects that the endpoints are tried on."""

    clinic: Clinic
    plan_b: TreatmentPlan
    draft_plan: TreatmentPlan
    appointment_a: Appointment
    appointment_b: Appointment
    past_b: Appointment
    checked_in_b: Appointment
    evaluation_b: Evaluation
    flag_b: PatientFlag
    flag_rule: Contraindication
    reminder_b: Reminder
    opening_hours: OpeningHours
    closure: Closure
    shift: Shift
    reminder_policy: ReminderPolicy
    cs_entry: ControlledSubstanceEntry
    response_b: QuestionnaireResponse

    @property
    def site(self):
        return self.clinic.site


@dataclass
class World(Side):
    users: dict  # role -> User (no entry for anonymous)
    tokens: dict  # role -> token key
    two: Side | None = None  # the second site, when built with two_sites=True

    def client(self, role: str) -> APIClient:
        client = APIClient()
        if role != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[role]}")
        return client


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def second_clinic(*, protocol, days: int) -> Clinic:
    """Another site with its own chairs, nurse, prescriber and front desk (none of them personas)."""
    site = SiteFactory(time_zone="America/New_York")
    nurse = StaffFactory(role=Role.NURSE, sites=[site])
    add_shifts(nurse, site, START - dt.timedelta(days=7), days)
    return Clinic(
        site=site,
        chairs=[ChairFactory(site=site, name=f"Chair {i + 1}") for i in range(3)],
        nurses=[nurse],
        prescriber=StaffFactory(role=Role.PRESCRIBER, sites=[site]),
        front_desk=StaffFactory(role=Role.FRONT_DESK, sites=[site]),
        protocol=protocol,
    )


def build_side(clinic: Clinic, patient_a, patient_b, flag_rule: Contraindication) -> Side:
    plan_b = clinic.plan(patient=patient_b)
    booked = course_book(plan=plan_b, actor=clinic.prescriber.user, now=NOW, start_date=START)
    plan_b.refresh_from_db()
    draft_plan = clinic.plan(patient=PatientFactory(home_site=clinic.site))
    appointment_a = appointment_book(
        patient=patient_a,
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
        actor=clinic.front_desk.user,
        now=NOW,
    )
    chair: Chair = clinic.chairs[2]
    nurse = clinic.nurses[0]
    past_b = AppointmentFactory(patient=patient_b, chair=chair, nurse=nurse, starts_at=NOW - dt.timedelta(hours=3))
    checked_in_b = AppointmentFactory(
        patient=patient_b,
        chair=chair,
        nurse=nurse,
        starts_at=NOW - dt.timedelta(minutes=30),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=NOW - dt.timedelta(minutes=40),
    )
    record_session_for_completion(checked_in_b, nurse.user)
    flag_b = PatientFlag.objects.create(
        patient=patient_b, contraindication=flag_rule, recorded_by=clinic.prescriber.user
    )
    closure = Closure.objects.create(
        site=clinic.site,
        starts_at=dt.datetime(2026, 5, 25, 4, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 5, 26, 4, tzinfo=dt.UTC),
        reason="Memorial Day",
    )
    return Side(
        clinic=clinic,
        plan_b=plan_b,
        draft_plan=draft_plan,
        appointment_a=appointment_a,
        appointment_b=booked[0],
        past_b=past_b,
        checked_in_b=checked_in_b,
        evaluation_b=patient_b.evaluations.get(),
        flag_b=flag_b,
        flag_rule=flag_rule,
        reminder_b=Reminder.objects.filter(appointment__patient=patient_b).order_by("pk").first(),
        opening_hours=clinic.site.opening_hours.get(weekday=4),
        closure=closure,
        shift=Shift.objects.filter(staff=nurse, site=clinic.site).order_by("starts_at").first(),
        reminder_policy=clinic.site.reminder_policy,
        cs_entry=ControlledSubstanceEntry.objects.get(appointment=checked_in_b, corrects__isnull=True),
        response_b=questionnaire_submit(
            patient=patient_b,
            instrument="phq9",
            answers=[2] * 9,
            entered_by=nurse.user,
            source=Source.STAFF,
            now=NOW - dt.timedelta(days=1),
        ),
    )


def build_world(*, days: int = 40, two_sites: bool = False) -> World:
    clinic = make_clinic(days=days)
    personas = make_personas(clinic.site)
    outsider = UserFactory(username="outsider")
    users = {
        "outsider": outsider,
        "front_desk": personas.front_desk.user,
        "nurse": personas.nurse.user,
        "prescriber": personas.prescriber.user,
        "clinic_admin": personas.clinic_admin.user,
        "patient_a": personas.patient_a.user,
        "patient_b": personas.patient_b.user,
    }
    flag_rule = Contraindication.objects.create(code="psychosis", label="Active psychosis", kind="flag")
    Contraindication.objects.create(code="pregnancy", label="Pregnancy", kind="flag")
    one = build_side(clinic, personas.patient_a, personas.patient_b, flag_rule)
    two = None
    if two_sites:
        other = second_clinic(protocol=clinic.protocol, days=days)
        two = build_side(other, PatientFactory(home_site=other.site), PatientFactory(home_site=other.site), flag_rule)
        for role, base in WIDE_ROLES.items():
            users[role] = StaffFactory(user=UserFactory(username=role), role=base, all_sites=True).user
    # Some tests move the clock by days (mock.patch of timezone.now), past a real token's lifetime;
    # expiry itself is tested in tests/test_security_tokens.py.
    tokens = {
        role: AuthToken.objects.create(user=user, expiry=dt.timedelta(days=3650))[1] for role, user in users.items()
    }
    return World(**vars(one), users=users, tokens=tokens, two=two)


@pytest.fixture
def world(request, api_world_built, db, frozen) -> World:
    """The world, as built_once_per_module (tests/conftest.py) hands it: a deep copy of the module's
    one build, or built for this test where the module cannot share one."""
    return built_for_the_test(request, api_world_built, build_world)


@pytest.fixture(scope="module")
def module_world(django_db_setup, django_db_blocker):
    """A two-site world built once per module, inside a transaction rolled back at its end.

    Each test's own `db` transaction nests in it as a savepoint, so whatever a test writes is
    undone before the next one while the world itself is built only once."""
    factory.random.reseed_random(f"{__name__}.module_world")  # its names whatever ran before
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with time_machine.travel(NOW, tick=False):
                built = build_world(two_sites=True)
            yield built
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def token_client_of(member) -> APIClient:
    """An API client that signs in as `member` with a token of theirs, as an integration does."""
    client = APIClient()
    token = AuthToken.objects.create(user=member.user, expiry=dt.timedelta(days=3650))[1]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def client_of(member) -> APIClient:
    """An API client signed in as the staff member `member`."""
    client = APIClient()
    client.force_authenticate(member.user)
    return client


@pytest.fixture
def wide_admin(db) -> APIClient:
    """A clinic-wide clinic administrator (`all_sites`): the one who changes what every site shares, such as protocols."""
    return client_of(StaffFactory(role=Role.CLINIC_ADMIN, all_sites=True))
