"""SMART App Launch v2 style scopes, granted by role.

Our tokens carry no scopes of their own: a token acts for its user, and the user's role
grants the scopes below (the same roles /api/v1/ checks). `patient/` scopes reach only the
token's own patient (their compartment); `user/` scopes reach what the user may see at
their sites (clinic.permissions.scope_to_actor). Each interaction names the scope it needs,
as the letters c(reate) r(ead) u(pdate) d(elete) s(earch); the operations count as:
$find = Appointment search, $hold = Appointment create, $book = Appointment create (a new
booking) or update (a move or a cancellation)."""

from __future__ import annotations

from dataclasses import dataclass

from clinic.permissions import CLINIC_ADMIN, FRONT_DESK, NURSE, PATIENT, PRESCRIBER

_CLINICIAN = (
    "user/Appointment.cruds",
    "user/Patient.crus",
    "user/Slot.rs",
    "user/Schedule.rs",
    "user/Location.rs",
    "user/HealthcareService.rs",
    "user/Practitioner.rs",
    "user/PractitionerRole.rs",
)

# Role -> the scopes its tokens hold. A clinic administrator configures the clinic and
# sees no patient data; a patient reads and searches their own appointments and record.
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    PATIENT: (
        "patient/Appointment.rs",
        "patient/Patient.rs",
        "patient/Slot.rs",
        "patient/Schedule.rs",
        "patient/Location.rs",
        "patient/HealthcareService.rs",
    ),
    FRONT_DESK: _CLINICIAN,
    NURSE: _CLINICIAN,
    PRESCRIBER: _CLINICIAN,
    CLINIC_ADMIN: (
        "user/Location.rs",
        "user/Schedule.rs",
        "user/HealthcareService.rs",
        "user/Practitioner.rs",
        "user/PractitionerRole.rs",
    ),
}


@dataclass(frozen=True)
class Grant:
    context: str  # "patient" or "user"
    resource_type: str
    interactions: frozenset[str]


def grants(role: str | None) -> list[Grant]:
    found = []
    for scope in ROLE_SCOPES.get(role or "", ()):
        context, rest = scope.split("/", 1)
        resource_type, letters = rest.split(".", 1)
        found.append(Grant(context, resource_type, frozenset(letters)))
    return found


def allows(role: str | None, resource_type: str, interaction: str) -> bool:
    """Whether `role` holds a scope for `interaction` (one of c r u d s) on `resource_type`."""
    return any(g.resource_type in (resource_type, "*") and interaction in g.interactions for g in grants(role))


def scope_string(role: str | None) -> str:
    return " ".join(ROLE_SCOPES.get(role or "", ()))
