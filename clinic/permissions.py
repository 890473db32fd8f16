"""Who is asking, and what each role may do through the API.

Every API request resolves its user to one *actor*: an active staff member with
a role, or a patient with a portal account. A signed-in user who is neither gets
403 everywhere. Object-level access is never fetch-then-403: views filter their
querysets by the actor, so another patient's object answers 404 exactly like one
that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from clinic.models import Role, StaffMember
from patients.models import Patient

PATIENT = "patient"
FRONT_DESK = Role.FRONT_DESK.value
NURSE = Role.NURSE.value
PRESCRIBER = Role.PRESCRIBER.value
CLINIC_ADMIN = Role.CLINIC_ADMIN.value

# Role sets the views name in their `access` tables.
CLINICIANS = frozenset({NURSE, PRESCRIBER})
DESK = frozenset({FRONT_DESK, NURSE, PRESCRIBER})  # run the day: book, move, cancel, check in
STAFF = frozenset({FRONT_DESK, NURSE, PRESCRIBER, CLINIC_ADMIN})
ADMINS = frozenset({CLINIC_ADMIN})
PRESCRIBERS = frozenset({PRESCRIBER})
PATIENTS = frozenset({PATIENT})


@dataclass(frozen=True)
class Actor:
    role: str | None  # a Role value, "patient", or None for nobody we know
    staff: StaffMember | None = None
    patient: Patient | None = None

    @property
    def is_clinician(self) -> bool:
        return self.role in CLINICIANS

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    @property
    def is_patient(self) -> bool:
        return self.role == PATIENT


NOBODY = Actor(role=None)


def actor_for(request: Request) -> Actor:
    """The request's actor, resolved once per request (two queries at most)."""
    cached = getattr(request, "_clinic_actor", None)
    if cached is not None:
        return cached
    user = request.user
    actor = NOBODY
    if user is not None and user.is_authenticated:
        try:
            staff = user.staff
        except ObjectDoesNotExist:
            staff = None
        if staff is not None and staff.active:
            actor = Actor(role=staff.role, staff=staff)
        elif staff is None:
            try:
                actor = Actor(role=PATIENT, patient=user.patient)
            except ObjectDoesNotExist:
                actor = NOBODY
        # An inactive staff member stays NOBODY even if a patient row points at the user:
        # a former employee's credentials must not keep opening the API.
    request._clinic_actor = actor
    return actor


class RoleAccess(BasePermission):
    """Allow the request when the actor's role is in the view's `access` table for the action.

    `access` maps an action name (viewsets) or "*" to a set of roles; the view may override
    `access_for(action)` for finer rules."""

    message = "Your role does not allow this."

    def has_permission(self, request: Request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF turns this into 401 for anonymous requests
        actor = actor_for(request)
        if actor.role is None:
            return False
        action = getattr(view, "action", None) or request.method.lower()
        table = view.access
        allowed = table.get(action, table.get("*", frozenset()))
        return actor.role in allowed
