"""The FHIR server's test support: a small staffed clinic with a token for each persona.

Personas and what they may reach through /fhir/R4/:
- front_desk, prescriber (site 1): user/Appointment.cruds, user/Patient.crus, Slots, Schedules ...;
- clinic_admin (site 1): Locations, Schedules, HealthcareServices, Practitioners; no patient data;
- patient_a, patient_b: patient/ scopes, only their own Patient and Appointments;
- outsider: a signed-in user with no role: 403 everywhere."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
import time_machine
from django.test import Client
from fhir.resources.R4B import get_fhir_model_class
from knox.models import AuthToken

from clinic.models import Role
from tests.conftest import built_for_the_test
from tests.factories import PatientFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import NOW, START, Clinic, make_clinic

BASE = "/fhir/R4/"
FHIR_JSON = "application/fhir+json"


@dataclass
class FHIRWorld:
    clinic: Clinic
    patient_a: object
    patient_b: object
    admin: object
    tokens: dict[str, str]

    @property
    def protocol(self):
        return self.clinic.protocol

    def client(self, role: str | None) -> Client:
        headers = {"HTTP_ACCEPT": FHIR_JSON}
        if role is not None:
            headers["HTTP_AUTHORIZATION"] = f"Token {self.tokens[role]}"
        return Client(**headers)


def build_world() -> FHIRWorld:
    clinic = make_clinic(chairs=2, nurses=1)
    patient_a = PatientFactory(
        home_site=clinic.site, first_name="Alice", last_name="Adams", mrn="MRN-A", user=UserFactory(username="pa")
    )
    patient_b = PatientFactory(
        home_site=clinic.site, first_name="Bob", last_name="Brown", mrn="MRN-B", user=UserFactory(username="pb")
    )
    admin = StaffFactory(role=Role.CLINIC_ADMIN, sites=[clinic.site], user=UserFactory(username="admin1"))
    users = {
        "front_desk": clinic.front_desk.user,
        "prescriber": clinic.prescriber.user,
        "clinic_admin": admin.user,
        "patient_a": patient_a.user,
        "patient_b": patient_b.user,
        "outsider": UserFactory(username="outsider"),
    }
    tokens = {role: AuthToken.objects.create(user=user)[1] for role, user in users.items()}
    return FHIRWorld(clinic=clinic, patient_a=patient_a, patient_b=patient_b, admin=admin, tokens=tokens)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def world(request, fhir_world_built, db, frozen) -> FHIRWorld:
    """The FHIR tests' world, as built_once_per_module (tests/conftest.py) hands it: a deep copy of
    the module's one build, or built for this test where the module cannot share one."""
    return built_for_the_test(request, fhir_world_built, build_world)


def parse(response):
    """The answer as a fhir.resources model: every answer must parse."""
    assert response["Content-Type"].startswith(FHIR_JSON), response["Content-Type"]
    data = json.loads(response.content)
    return get_fhir_model_class(data["resourceType"]).model_validate(data)


def parameters(*pairs: tuple[str, str, object]) -> str:
    """A Parameters body: (name, value[x] key, value) triples, e.g. ("start", "valueDateTime", "2026-03-02")."""
    from fhir.resources.R4B.parameters import Parameters

    return Parameters(parameter=[{"name": name, key: value} for name, key, value in pairs]).model_dump_json()


def window(day: dt.date = START, days: int = 1) -> tuple[str, str]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return zulu(start), zulu(start + dt.timedelta(days=days))


def zulu(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def find_body(world: FHIRWorld, patient=None, *, day: dt.date = START, days: int = 1, count: int = 5, course=False):
    start, end = window(day, days)
    pairs = [
        ("start", "valueDateTime", start),
        ("end", "valueDateTime", end),
        ("visit-type", "valueString", str(world.protocol.pk)),
    ]
    if patient is not None:
        pairs.append(("patient-reference", "valueReference", {"reference": f"Patient/{patient.pk}"}))
    if course:
        pairs.append(("course", "valueBoolean", True))
    pairs.append(("_count", "valueInteger", count))
    return parameters(*pairs)


def reference(name: str, target: str) -> str:
    return parameters((name, "valueReference", {"reference": target}))


# --- Posting and reading back operations ---


def post(client, path, body, **headers):
    return client.post(BASE + path, body, content_type=FHIR_JSON, **headers)


def proposed(bundle):
    return [e.resource for e in bundle.entry or [] if e.resource.get_resource_type() == "Appointment"]


def chair_id(resource) -> int:
    ref = next(p.actor.reference for p in resource.participant if p.actor.reference.startswith("Location/chair-"))
    return int(ref.rpartition("-")[2])


def outcome_of(response):
    resource = parse(response)
    assert resource.get_resource_type() == "OperationOutcome", response.content
    return resource.issue[0]


def hold_first_proposal(world, patient, role="front_desk"):
    """$find for `patient` (the first day of the fixture's window), $hold the first proposal: (proposal, hold id)."""
    desk = world.client(role)
    proposal = proposed(parse(post(desk, "Appointment/$find", find_body(world, patient, count=1))))[0]
    held = parse(post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal.id}")))
    return proposal, held.entry[0].resource.id
