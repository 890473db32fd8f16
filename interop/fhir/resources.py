"""Read and search for each resource type: what the actor may see, how each search parameter
narrows it, and the FHIR resource each row becomes. Slot is computed (interop.fhir.finding)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone
from fhir.resources.R4B.appointment import Appointment as FAppointment
from fhir.resources.R4B.resource import Resource

from clinic.dates import BIRTH_EARLIEST, CLINICAL_EARLIEST
from clinic.models import Chair, Role, Site, StaffMember
from clinic.permissions import Actor, may_see_field, scope_to_actor, scope_to_staff
from interop.fhir import representation as rep
from interop.fhir.closures import SCHEDULE_HORIZON_DAYS, chair_periods, chairs_closed, sites_closed
from interop.fhir.outcome import invalid, not_supported
from interop.fhir.paging import CURSOR
from interop.fhir.params import date_condition, location_ids, reference_id, row_number
from patients.models import Patient, one_form
from scheduling.models import Appointment, Protocol
from scheduling.selectors import patient_appointments

COMMON = frozenset({"_count", "_offset", CURSOR, "_format", "_pretty", "_summary", "_total"})


@dataclass
class Kind:
    name: str
    # The rows `actor` may see, before any search parameter.
    visible: Callable[[Actor], QuerySet]
    # A page of rows as the resources `actor` reads: a read builds a page of one the same way, so a
    # read and a search give an asker the same content (and, for a resource versioned by its
    # content, the same version). `each` makes one from a builder of one row alike for everyone.
    build: Callable[[list, Actor], Sequence[Resource]]
    # Search parameter -> how it narrows the queryset (values are every repetition).
    searches: dict[str, Callable[[QuerySet, list[str]], QuerySet]] = field(default_factory=dict)
    last_updated: str | None = None  # the column _lastUpdated reads, if the rows keep one
    order: tuple[str, ...] = ("pk",)
    # Which patients a row shows (for the access log).
    patient_of: Callable[[Any], int | None] = lambda row: None
    id_prefix: str = ""

    def build_one(self, row: Any, actor: Actor) -> Resource:
        return self.build([row], actor)[0]

    def search_parameters(self) -> list[str]:
        names = [*self.searches, "_id"]
        if self.last_updated:
            names.append("_lastUpdated")
        return names

    def row_id(self, resource_id: str) -> int | None:
        if self.id_prefix:
            if not resource_id.startswith(self.id_prefix):
                return None
            resource_id = resource_id[len(self.id_prefix) :]
        return row_number(resource_id)

    def search(self, actor: Actor, params: dict[str, list[str]]) -> QuerySet:
        queryset = self.visible(actor)
        for name, values in params.items():
            if name in COMMON:
                continue
            base = name.split(":", 1)[0]
            if base == "_id":
                wanted = [self.row_id(v.strip()) for value in values for v in value.split(",")]
                queryset = queryset.filter(pk__in=[w for w in wanted if w is not None])
            elif base == "_lastUpdated" and self.last_updated:
                for value in values:
                    # A sync "since ever" (ge1970-01-01) is common: from 1900, as birth dates.
                    condition = date_condition(value, name=name, earliest=BIRTH_EARLIEST)
                    queryset = queryset.filter(**condition.lookups(self.last_updated))
            elif base in self.searches and base == name:
                queryset = self.searches[base](queryset, values)
            else:
                raise not_supported(
                    f"{self.name} cannot be searched by {name!r}; use {', '.join(self.search_parameters())}."
                )
        return queryset.order_by(*self.order)


# --- Who sees what -----------------------------------------------------------------------


def _patients_visible(actor: Actor) -> QuerySet:
    return scope_to_actor(Patient.objects.all(), actor)


def _appointments_visible(actor: Actor) -> QuerySet:
    # A patient's own sessions as they see them everywhere (a time the EHR holds is none).
    rows = patient_appointments(actor.patient) if isinstance(actor.patient, Patient) else Appointment.objects.all()
    return scope_to_actor(rows.select_related("plan__protocol"), actor)


def _sites_visible(actor: Actor) -> QuerySet:
    # Where the clinic is is no secret: a patient sees every site, staff their own.
    if actor.is_staff:
        return scope_to_staff(Site.objects.all(), actor.staff)
    return Site.objects.all() if actor.is_patient else Site.objects.none()


def _chairs_visible(actor: Actor) -> QuerySet:
    # With their site: a Schedule names its chair's closures on the site's clock.
    chairs = Chair.objects.select_related("site")
    if actor.is_staff:
        return scope_to_staff(chairs, actor.staff)
    return chairs.filter(active=True) if actor.is_patient else chairs.none()


def _clinicians_visible(actor: Actor) -> QuerySet:
    staff = StaffMember.objects.filter(role__in=[Role.NURSE, Role.PRESCRIBER]).select_related("user")
    if actor.is_staff:
        return scope_to_staff(staff, actor.staff)
    return staff.none()


def _protocols_visible(actor: Actor) -> QuerySet:
    return Protocol.objects.all() if actor.role else Protocol.objects.none()


# --- Search parameters -------------------------------------------------------------------


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _patient_identifier(queryset: QuerySet, values: list[str]) -> QuerySet:
    for value in values:
        condition = Q()
        for token in _split([value]):
            system, bar, code = token.rpartition("|")
            if bar and system and system != rep.mrn_system():
                condition |= Q(pk__in=[])
            else:
                condition |= Q(mrn=code)
        queryset = queryset.filter(condition)
    return queryset


def _patient_name(queryset: QuerySet, values: list[str]) -> QuerySet:
    for value in values:
        condition = Q()
        for name in map(one_form, _split([value])):
            condition |= Q(first_name__istartswith=name) | Q(last_name__istartswith=name)
        queryset = queryset.filter(condition)
    return queryset


def _field_startswith(column: str) -> Callable[[QuerySet, list[str]], QuerySet]:
    def narrow(queryset: QuerySet, values: list[str]) -> QuerySet:
        for value in values:
            condition = Q()
            for name in map(one_form, _split([value])):
                condition |= Q(**{f"{column}__istartswith": name})
            queryset = queryset.filter(condition)
        return queryset

    return narrow


def _date_of(column: str, name: str) -> Callable[[QuerySet, list[str]], QuerySet]:
    def narrow(queryset: QuerySet, values: list[str]) -> QuerySet:
        for value in values:
            # Birth dates reach back past the clinical range (clinic.dates.BIRTH_EARLIEST).
            earliest = BIRTH_EARLIEST if column == "date_of_birth" else CLINICAL_EARLIEST
            condition = date_condition(value, name=name, earliest=earliest)
            lookups: dict[str, dt.datetime | dt.date] = dict(condition.lookups(column))
            if column == "date_of_birth":
                lookups = {key: bound.date() for key, bound in condition.lookups(column).items()}
            queryset = queryset.filter(**lookups)
        return queryset

    return narrow


def _session_day(queryset: QuerySet, values: list[str]) -> QuerySet:
    """Appointments by `date`: an instant as given; a calendar day as that day where each session's
    site is (a 09:00 session in Sydney on 3 March is on 3 March, though it is 2 March in UTC)."""
    zones = sorted(set(Site.objects.values_list("time_zone", flat=True)))
    for value in values:
        condition = date_condition(value, name="date")
        if condition.days is None:
            queryset = queryset.filter(**condition.lookups("starts_at"))
            continue
        by_zone = Q()
        for zone in zones:
            by_zone |= Q(site__time_zone=zone, **condition.in_zone(ZoneInfo(zone)).lookups("starts_at"))
        queryset = queryset.filter(by_zone)
    return queryset


def _appointment_patient(queryset: QuerySet, values: list[str]) -> QuerySet:
    for value in values:
        ids = [reference_id(v, "Patient", name="patient") for v in _split([value])]
        queryset = queryset.filter(patient_id__in=ids)
    return queryset


def _appointment_status(queryset: QuerySet, values: list[str]) -> QuerySet:
    for value in values:
        ours: list[str] = []
        for code in _split([value]):
            if code not in rep.FHIR_APPOINTMENT_STATUSES:
                raise invalid(f"status: {code!r} is not an Appointment status.")
            ours += rep.FHIR_TO_STATUSES.get(code, [])
        queryset = queryset.filter(status__in=ours)
    return queryset


def _appointment_actor(queryset: QuerySet, values: list[str]) -> QuerySet:
    for value in values:
        condition = Q()
        for ref in _split([value]):
            kind = ref.rpartition("/")[0].rsplit("/", 1)[-1]
            if kind == "Patient":
                condition |= Q(patient_id=reference_id(ref, "Patient", name="actor"))
            elif kind in ("Practitioner", "PractitionerRole"):
                condition |= Q(nurse_id=reference_id(ref, kind, name="actor")) | Q(
                    plan__prescriber_id=reference_id(ref, kind, name="actor")
                )
            elif kind == "Location":
                sites, chairs = location_ids([ref], name="actor")
                condition |= Q(site_id__in=sites) | Q(chair_id__in=chairs)
            else:
                raise invalid(f"actor: {ref!r} is not a Patient, Practitioner or Location reference.")
        queryset = queryset.filter(condition)
    return queryset


def _appointment_location(queryset: QuerySet, values: list[str]) -> QuerySet:
    sites, chairs = location_ids(values, name="location")
    return queryset.filter(Q(site_id__in=sites) | Q(chair_id__in=chairs))


def _schedule_actor(queryset: QuerySet, values: list[str]) -> QuerySet:
    sites, chairs = location_ids(values, name="actor")
    return queryset.filter(Q(site_id__in=sites) | Q(pk__in=chairs))


def _active(queryset: QuerySet, values: list[str]) -> QuerySet:
    for value in values:
        if value not in ("true", "false"):
            raise invalid("active: use true or false.")
        queryset = queryset.filter(active=value == "true")
    return queryset


def _location_name(queryset: QuerySet, values: list[str]) -> QuerySet:
    return _field_startswith("name")(queryset, values)


# --- The kinds ---------------------------------------------------------------------------


def each(build_row: Callable[[Any], Resource]) -> Callable[[list, Actor], list[Resource]]:
    """A page builder from `build_row`, for a resource every asker who may see the row reads alike."""

    def build(rows: list, actor: Actor) -> list[Resource]:
        return [build_row(row) for row in rows]

    return build


def _practitioner_role(staff: StaffMember) -> Resource:
    return rep.practitioner_role_resource(staff, sorted(site.pk for site in staff.sites.all()))


def appointments_for(appointments: list[Appointment], actor: Actor) -> list[FAppointment]:
    """Appointments as `actor` reads them: the EHR's reason and comment, kept in the session's notes,
    only for the roles that read a session's notes (clinic.permissions.FIELD_READERS)."""
    clinical = may_see_field(actor.role, "appointment", "notes")
    return [rep.appointment_resource(appointment, clinical=clinical) for appointment in appointments]


# A page of chairs or sites reads its closures in one query (interop.fhir.closures), as of one `now`.
def _schedules(chairs: list[Chair], actor: Actor) -> list[Resource]:
    now = timezone.now()
    protocols = list(Protocol.objects.filter(active=True))
    periods = chair_periods(chairs, now=now, until=now + dt.timedelta(days=SCHEDULE_HORIZON_DAYS))
    # A closure's reason is free text the clinic's administrators type, for staff (as /api/v1/closures/):
    # a patient reads when a chair is closed, not why.
    reasons = actor.is_staff
    return [
        rep.schedule_resource(chair, protocols, out_of_use=periods[chair.pk], now=now, reasons=reasons)
        for chair in chairs
    ]


def _chair_locations(chairs: list[Chair], actor: Actor) -> list[Resource]:
    closed = chairs_closed(chairs, now=timezone.now())
    return [rep.chair_location(chair, closed_now=chair.pk in closed) for chair in chairs]


def _site_locations(sites: list[Site], actor: Actor) -> list[Resource]:
    closed = sites_closed(sites, now=timezone.now())
    return [rep.site_location(site, closed_now=site.pk in closed) for site in sites]


KINDS: dict[str, Kind] = {
    "Patient": Kind(
        "Patient",
        _patients_visible,
        each(rep.patient_resource),
        {
            "identifier": _patient_identifier,
            "name": _patient_name,
            "family": _field_startswith("last_name"),
            "given": _field_startswith("first_name"),
            "birthdate": _date_of("date_of_birth", "birthdate"),
        },
        last_updated="updated_at",
        order=("last_name", "first_name", "pk"),
        patient_of=lambda row: row.pk,
    ),
    "Appointment": Kind(
        "Appointment",
        _appointments_visible,
        appointments_for,
        {
            "patient": _appointment_patient,
            "date": _session_day,
            "status": _appointment_status,
            "actor": _appointment_actor,
            "location": _appointment_location,
        },
        last_updated="updated_at",
        order=("starts_at", "pk"),
        patient_of=lambda row: row.patient_id,
    ),
    "Practitioner": Kind(
        "Practitioner",
        _clinicians_visible,
        each(rep.practitioner_resource),
        {"name": _field_startswith("user__last_name"), "active": _active},
        order=("user__last_name", "pk"),
    ),
    "PractitionerRole": Kind(
        "PractitionerRole",
        lambda actor: _clinicians_visible(actor).prefetch_related("sites"),
        each(_practitioner_role),
        {"active": _active},
    ),
    "Location": Kind(
        "Location",
        _sites_visible,
        _site_locations,
        {"name": _location_name},
        id_prefix="site-",
    ),
    "HealthcareService": Kind(
        "HealthcareService",
        _protocols_visible,
        each(rep.healthcare_service_resource),
        {"name": _field_startswith("name"), "active": _active},
    ),
    "Schedule": Kind("Schedule", _chairs_visible, _schedules, {"actor": _schedule_actor, "active": _active}),
}

# Chairs are Locations too (Location/chair-<id>, part of their site's Location).
CHAIR_LOCATION = Kind("Location", _chairs_visible, _chair_locations, id_prefix="chair-")
