"""Who may open which page. Staff pages answer 403 to patients and to staff of
the wrong role; a patient asking for anything that is not theirs gets 404, so
an id guess learns nothing. Staff see only the sites they work at (`scoped`, the
same rule as the API's: clinic/permissions.py): another site's object is 404 too."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.http import url_has_allowed_host_and_scheme

from clinic.models import CLINICIAN_ROLES, Role, StaffMember
from clinic.permissions import scope_to_staff
from patients.models import Patient

ALL_STAFF = frozenset(Role)
DESK_ROLES = frozenset({Role.FRONT_DESK, *CLINICIAN_ROLES})
CLINICIANS = frozenset(CLINICIAN_ROLES)

# Who may open each staff page. The views' decorators read this table and so do the
# templates (`request.can`), so navigation and buttons show only what answers 200.
# Clinic administrators see the board and week read-only; patient data is for the desk
# and clinicians (as in the API).
PAGE_ROLES: dict[str, frozenset[str]] = {
    "board": ALL_STAFF,
    "week": ALL_STAFF,
    "patient_search": DESK_ROLES,
    "patient_chart": DESK_ROLES,
    "book_course": DESK_ROLES,
    "appointment_action": DESK_ROLES,
    "plan_adjust": CLINICIANS,
    "plan_screening": CLINICIANS,
    "session_record": CLINICIANS,
    "cs_log": frozenset({*CLINICIAN_ROLES, Role.CLINIC_ADMIN}),
    # A log line is corrected by the clinicians of its site, as over the API; administrators only read it.
    "cs_correct": CLINICIANS,
    "waitlist": DESK_ROLES,
    "to_move": DESK_ROLES,
    # The clinic manager's pages (issue 17): administrators set the day template up; the capacity
    # charts are for them and the prescribers who run the clinic, not the front desk (counts only,
    # no patient data, but not part of the desk's work).
    "day_template": frozenset({Role.CLINIC_ADMIN}),
    "capacity": frozenset({Role.CLINIC_ADMIN, Role.PRESCRIBER}),
    "site_holidays": frozenset({Role.CLINIC_ADMIN}),
}


def pages_for(staff: StaffMember) -> dict[str, bool]:
    return {page: staff.role in roles for page, roles in PAGE_ROLES.items()}


def enter_as_staff(request: HttpRequest, staff: StaffMember) -> None:
    request.staff = staff  # type: ignore[attr-defined]
    request.can = pages_for(staff)  # type: ignore[attr-defined]


View = Callable[..., HttpResponse]
M = TypeVar("M", bound=Model)


def staff_of(request: HttpRequest) -> StaffMember | None:
    user = request.user
    if not user.is_authenticated:
        return None
    staff = getattr(user, "staff", None)
    return staff if staff is not None and staff.active else None


def scoped(queryset: QuerySet[M], request: HttpRequest) -> QuerySet[M]:
    """`queryset` narrowed to the sites the signed-in member of staff works at."""
    return scope_to_staff(queryset, request.staff)  # type: ignore[attr-defined]


def patient_of(request: HttpRequest) -> Patient | None:
    """The signed-in patient's chart; None for a deactivated member of staff even when a patient
    row points at the login (the API's rule, clinic/permissions.py actor_for): a former employee's
    open session must not keep opening the portal."""
    user = request.user
    if not user.is_authenticated:
        return None
    staff = getattr(user, "staff", None)
    if staff is not None and not staff.active:
        return None
    return Patient.objects.select_related("home_site").filter(user=user).first()


def page_required(page: str) -> Callable[[View], View]:
    """Staff of the roles PAGE_ROLES names for `page`."""
    return staff_required(PAGE_ROLES[page])


def staff_required(roles: frozenset[str] = ALL_STAFF) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            staff = staff_of(request)
            if staff is None or staff.role not in roles:
                raise PermissionDenied("This page is not part of your role.")
            enter_as_staff(request, staff)
            return view(request, *args, **kwargs)

        wrapped.staff_roles = roles  # type: ignore[attr-defined]  # read by the navigation tests
        return wrapped

    return decorate


def patient_required(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        patient = patient_of(request)
        if patient is None:
            raise PermissionDenied("This page is for patients.")
        request.patient = patient  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapped


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
