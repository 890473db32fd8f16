"""Our rows as FHIR R4 resources, every one built with fhir.resources (R4B models, which
serialise R4-compatible JSON for the resources used here)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any, TypeVar

from django.conf import settings
from fhir.resources.R4B.appointment import Appointment as FAppointment
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.patient import Patient as FPatient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot as FSlot

from clinic.models import Chair, Role, Route, Site, StaffMember
from interop.fhir import ids
from interop.fhir.closures import SCHEDULE_HORIZON_DAYS, Period, Scope
from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus, Protocol

IHE_APPOINTMENT_PROFILE = "https://profiles.ihe.net/ITI/Scheduling/StructureDefinition/ihe-sched-appt"
IHE_BUNDLE_PROFILE = "https://profiles.ihe.net/ITI/Scheduling/StructureDefinition/ihe-sched-avail-bundle"
V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
ROUTE_SYSTEM = "urn:clinic-scheduler:fhir:route"
PRACTITIONER_ROLE_SYSTEM = "urn:clinic-scheduler:fhir:staff-role"
V2_BED_STATUS = "http://terminology.hl7.org/CodeSystem/v2-0116"

# Our appointment states as FHIR AppointmentStatus codes. In the chair is still "checked-in" (the
# encounter under way): FHIR's "arrived" is a patient waiting to be seen, before "checked-in", and a
# session must never step back as it goes on. No state of ours is "arrived".
STATUS_TO_FHIR = {
    AppointmentStatus.HELD: "pending",
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.CONFIRMED: "booked",
    AppointmentStatus.CHECKED_IN: "checked-in",
    AppointmentStatus.IN_CHAIR: "checked-in",
    AppointmentStatus.COMPLETED: "fulfilled",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.NO_SHOW: "noshow",
}
FHIR_TO_STATUSES: dict[str, list[str]] = {}
for ours, theirs in STATUS_TO_FHIR.items():
    FHIR_TO_STATUSES.setdefault(theirs, []).append(ours.value)
# Every code of FHIR R4's AppointmentStatus: a search by one we never use finds nothing, it is no error.
FHIR_APPOINTMENT_STATUSES = (
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
)


def mrn_system() -> str:
    return settings.FHIR_MRN_SYSTEM


def version_of(updated_at: dt.datetime | None) -> str:
    """A version id that changes on every save: the row's updated_at in microseconds. For a resource
    that says nothing but its own row's fields (Patient); any other is versioned by_content."""
    if updated_at is None:
        return "1"
    return str(int(updated_at.timestamp() * 1_000_000))


# 80 bits of the digest: an id FHIR accepts (at most 64 characters), no clash in practice.
CONTENT_VERSION_LENGTH = 20
ContentVersioned = TypeVar("ContentVersioned", bound=Resource)


def by_content(
    resource: ContentVersioned, *, last_updated: dt.datetime | None = None, profiles: tuple[str, ...] = ()
) -> ContentVersioned:
    """`resource` with meta.versionId a digest of everything else it says, for a resource whose
    content is not its row's alone, or moves with the clock: a chair's Location is suspended while a
    closure covers the moment, its Schedule names the closures of the coming days, an Appointment
    names its plan's protocol. The version, and the ETag, change exactly when the content does,
    whenever it is read; two reads of the same content, at any instants, share one. A resource built
    for each reader (a patient's Schedule, the desk's Appointment without clinical fields) has each
    copy's own version, which says nothing of what that reader is not shown.
    `last_updated`: the row's time of change, given as meta.lastUpdated but left out of the digest
    (a save that changes nothing the resource says keeps its version). Without it no
    meta.lastUpdated: nothing records when such content changed (a period's start passing, a closure
    deleted), and a guess would mislead a sync. `profiles`: meta.profile. Built without a meta."""
    digest = hashlib.sha256(resource.model_dump_json().encode()).hexdigest()[:CONTENT_VERSION_LENGTH]
    resource.meta = Meta(versionId=digest, lastUpdated=last_updated, profile=list(profiles) or None)
    return resource


def _meta(updated_at: dt.datetime | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"versionId": version_of(updated_at)}
    if updated_at is not None:
        meta["lastUpdated"] = updated_at
    return meta


def site_ref(site_id: int) -> dict[str, str]:
    return {"reference": f"Location/site-{site_id}"}


def chair_ref(chair_id: int) -> dict[str, str]:
    return {"reference": f"Location/chair-{chair_id}"}


def service_coding(protocol: Protocol) -> dict[str, Any]:
    return {
        "coding": [
            {"system": "urn:clinic-scheduler:fhir:protocol", "code": str(protocol.pk), "display": protocol.name}
        ],
        "text": protocol.name,
    }


def patient_resource(patient: Patient) -> FPatient:
    identifiers = []
    if patient.mrn:
        identifiers.append(
            {
                "use": "usual",
                "type": {"coding": [{"system": V2_IDENTIFIER_TYPE, "code": "MR"}]},
                "system": mrn_system(),
                "value": patient.mrn,
            }
        )
    telecom = []
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if patient.mobile_phone:
        telecom.append({"system": "phone", "use": "mobile", "value": str(patient.mobile_phone)})
    return FPatient(
        id=str(patient.pk),
        meta=_meta(patient.updated_at),
        identifier=identifiers or None,
        active=True,
        name=[{"use": "official", "family": patient.last_name, "given": [patient.first_name]}],
        telecom=telecom or None,
        birthDate=patient.date_of_birth,
    )


def practitioner_resource(staff: StaffMember) -> Practitioner:
    user = staff.user
    return by_content(
        Practitioner(
            id=str(staff.pk),
            active=staff.active,
            name=[{"family": user.last_name or user.username, "given": [user.first_name] if user.first_name else None}],
        )
    )


def practitioner_role_resource(staff: StaffMember, site_ids: list[int]) -> PractitionerRole:
    return by_content(
        PractitionerRole(
            id=str(staff.pk),
            active=staff.active,
            practitioner={"reference": f"Practitioner/{staff.pk}", "display": staff.display_name},
            code=[
                {
                    "coding": [
                        {"system": PRACTITIONER_ROLE_SYSTEM, "code": staff.role, "display": Role(staff.role).label}
                    ]
                }
            ],
            location=[site_ref(site_id) for site_id in site_ids] or None,
        )
    )


# A site or chair closed now, as R4 says it: Location.status "suspended" is "temporarily closed"
# ("inactive" is "no longer used": a chair switched off, which outranks a period), and
# operationalStatus (v2-0116, the bed status R4 binds, meant for chairs too) is C Closed. Open, it
# has no operationalStatus: O/U (occupied, unoccupied) would tell everyone who may read the chair,
# patients included, whether someone sits in it this minute; booking needs only the Slots.
def _location_status(*, active: bool, closed_now: bool) -> str:
    if not active:
        return "inactive"
    return "suspended" if closed_now else "active"


def _operational_status(closed_now: bool) -> Coding | None:
    return Coding(system=V2_BED_STATUS, code="C", display="Closed") if closed_now else None


def site_location(site: Site, *, closed_now: bool) -> Location:
    """`closed_now`: a closure of the whole site (its own or every site's) covers the moment."""
    return by_content(
        Location(
            id=f"site-{site.pk}",
            status=_location_status(active=True, closed_now=closed_now),
            operationalStatus=_operational_status(closed_now),
            name=site.name,
            mode="instance",
            physicalType={
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "si"}]
            },
            telecom=[{"system": "phone", "value": str(site.phone)}] if site.phone else None,
            address={"text": site.address} if site.address else None,
            extension=[{"url": "urn:clinic-scheduler:fhir:time-zone", "valueCode": site.time_zone}],
        )
    )


def chair_location(chair: Chair, *, closed_now: bool) -> Location:
    """`closed_now`: the chair is out of use, or its site closed, at the moment (closures.chair_periods)."""
    return by_content(
        Location(
            id=f"chair-{chair.pk}",
            status=_location_status(active=chair.active, closed_now=closed_now),
            operationalStatus=_operational_status(closed_now),
            name=chair.name,
            mode="instance",
            physicalType={
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "bd"}]
            },
            partOf=site_ref(chair.site_id),
        )
    )


def healthcare_service_resource(protocol: Protocol) -> HealthcareService:
    route = Route(protocol.route)
    return by_content(
        HealthcareService(
            id=str(protocol.pk),
            active=protocol.active,
            name=protocol.name,
            type=[service_coding(protocol)],
            characteristic=[{"coding": [{"system": ROUTE_SYSTEM, "code": route.value, "display": route.label}]}],
            comment=f"{protocol.session_minutes} minutes in the chair ({protocol.infusion_minutes} of them the dose), "
            f"{protocol.induction_session_count} induction sessions.",
            extraDetails=protocol.preparation_notes or None,
        )
    )


# At most this many periods are named in a Schedule's comment; the rest are counted.
SCHEDULE_PERIODS_NAMED = 10
_PERIOD_LABEL = {Scope.CHAIR: "{}", Scope.SITE: "site closed: {}", Scope.EVERY_SITE: "every site closed: {}"}
# The same periods without the closures' reasons (free text the clinic's administrators type).
_PERIOD_LABEL_WITHOUT_REASON = {Scope.CHAIR: "closed", Scope.SITE: "site closed", Scope.EVERY_SITE: "every site closed"}


def _period_label(period: Period, *, reasons: bool) -> str:
    if reasons:
        return _PERIOD_LABEL[period.scope].format(period.reason)
    return _PERIOD_LABEL_WITHOUT_REASON[period.scope]


def schedule_resource(
    chair: Chair, protocols: list[Protocol], *, out_of_use: list[Period], now: dt.datetime, reasons: bool
) -> Schedule:
    """`out_of_use`: the periods that close the chair from `now` to SCHEDULE_HORIZON_DAYS ahead (its own,
    its site's, every site's), by start; named in the comment on the site's clock, with the closures'
    reasons if `reasons` (for staff; a patient reads when, not why). Schedule.active stays the chair's
    own flag: a chair out of use for a while keeps its schedule, its Slots busy."""
    routes = set(chair.equipment or ())
    comment = f"{chair.name}: free times are computed on request (Slot search), never stored."
    if out_of_use:
        zone = chair.site.zone
        named = [
            f"{period.starts_at.astimezone(zone):%Y-%m-%d %H:%M} to {period.ends_at.astimezone(zone):%Y-%m-%d %H:%M}, "
            + _period_label(period, reasons=reasons)
            + (" (now)" if period.covers(now) else "")
            for period in out_of_use[:SCHEDULE_PERIODS_NAMED]
        ]
        if len(out_of_use) > SCHEDULE_PERIODS_NAMED:
            named.append(f"and {len(out_of_use) - SCHEDULE_PERIODS_NAMED} more")
        comment += (
            f" Out of use in the next {SCHEDULE_HORIZON_DAYS} days (times in {chair.site.time_zone}): "
            + "; ".join(named)
            + "."
        )
    return by_content(
        Schedule(
            id=str(chair.pk),
            active=chair.active,
            serviceType=[service_coding(p) for p in protocols if p.route in routes] or None,
            actor=[chair_ref(chair.pk), site_ref(chair.site_id)],
            comment=comment,
        )
    )


def slot_resource(proposed: ids.Proposed, protocol: Protocol) -> FSlot:
    return FSlot(
        id=ids.encode(proposed),
        schedule={"reference": f"Schedule/{proposed.chair_id}"},
        serviceType=[service_coding(protocol)],
        status="free",
        start=proposed.start,
        end=proposed.end,
    )


def appointment_resource(appointment: Appointment, *, clinical: bool) -> FAppointment:
    """`clinical`: the asker reads the session's notes (clinic.permissions.FIELD_READERS), and so the
    EHR's reasons and comment kept in them as reasonCode and comment; for anyone else they are left out."""
    participants: list[dict[str, Any]] = [
        {"actor": {"reference": f"Patient/{appointment.patient_id}"}, "status": "accepted", "required": "required"},
        {"actor": chair_ref(appointment.chair_id), "status": "accepted", "required": "required"},
        {"actor": site_ref(appointment.site_id), "status": "accepted", "required": "information-only"},
    ]
    if appointment.nurse_id:
        participants.append(
            {
                "actor": {"reference": f"Practitioner/{appointment.nurse_id}"},
                "status": "accepted",
                "required": "required",
            }
        )
    plan = appointment.plan
    extension = []
    if appointment.status == AppointmentStatus.HELD and appointment.hold_expires_at:
        extension.append(
            {"url": "urn:clinic-scheduler:fhir:hold-expires", "valueDateTime": appointment.hold_expires_at}
        )
    # Versioned by content: serviceType names the protocol, which is renamed without the appointment
    # row changing, and the desk's copy leaves out the clinical fields (by_content).
    resource = FAppointment(
        id=str(appointment.pk),
        extension=extension or None,
        status=STATUS_TO_FHIR[AppointmentStatus(appointment.status)],
        serviceType=[service_coding(plan.protocol)] if plan is not None else None,
        start=appointment.starts_at,
        end=appointment.ends_at,
        minutesDuration=int((appointment.ends_at - appointment.starts_at).total_seconds() // 60),
        created=appointment.created_at,
        cancelationReason={"text": appointment.cancellation_reason} if appointment.cancellation_reason else None,
        reasonCode=(ehr_reasons(appointment.notes) or None) if clinical else None,
        comment=ehr_comment(appointment.notes) if clinical else None,
        participant=participants,
    )
    return by_content(resource, last_updated=appointment.updated_at, profiles=(IHE_APPOINTMENT_PROFILE,))


# How a $book comment is kept in the session's notes; only these lines go back out as
# Appointment.comment (the desk's own notes stay inside the clinic).
EHR_NOTE_PREFIX = "EHR: "


def ehr_comment(notes: str) -> str | None:
    lines = [line[len(EHR_NOTE_PREFIX) :] for line in notes.splitlines() if line.startswith(EHR_NOTE_PREFIX)]
    return "\n".join(lines) or None


# How an EHR's reason for the appointment ($find's reason, $hold's or $book's, an
# appointment-resource's reasonCode) is kept in the session's notes: one line each, its text
# then its codes as [system|code], so the desk reads it and Appointment.reasonCode answers it.
EHR_REASON_PREFIX = "EHR reason: "
_REASON_CODE = re.compile(r"\s*\[([^\[\]|]*)\|([^\[\]|]+)\]$")


def reason_line(concept: CodeableConcept) -> str:
    """The notes line (without its prefix) that keeps a reason: its text, then its codes."""
    codings = [c for c in concept.coding or [] if c.code]
    text = concept.text or next((c.display for c in codings if c.display), None) or ""
    codes = " ".join(f"[{c.system or ''}|{c.code}]" for c in codings)
    return " ".join(f"{text} {codes}".split())


def ehr_reasons(notes: str) -> list[CodeableConcept]:
    """The reasons kept in the notes (reason_line), as CodeableConcepts."""
    found = []
    for line in notes.splitlines():
        if not line.startswith(EHR_REASON_PREFIX):
            continue
        rest = line[len(EHR_REASON_PREFIX) :]
        codings: list[Coding] = []
        while match := _REASON_CODE.search(rest):
            codings.insert(0, Coding(system=match.group(1) or None, code=match.group(2)))
            rest = rest[: match.start()]
        found.append(CodeableConcept(coding=codings or None, text=rest.strip() or None))
    return found


def proposed_appointment(
    proposed: ids.Proposed,
    protocol: Protocol,
    *,
    sequence: int | None = None,
    reasons: list[CodeableConcept] | None = None,
    why: str | None = None,
) -> FAppointment:
    """A $find proposal. `reasons`: the reason the EHR gave $find (reasonCode). `why`: why the site's
    placement policy chose this time, in words, as Appointment.comment (a course's session, for staff);
    a proposal has no comment otherwise (a booked Appointment's is the EHR's own $book comment)."""
    participants: list[dict[str, Any]] = [
        {"actor": chair_ref(proposed.chair_id), "status": "accepted", "required": "required"},
        {"actor": site_ref(proposed.site_id), "status": "accepted", "required": "information-only"},
        {"actor": {"reference": f"Practitioner/{proposed.nurse_id}"}, "status": "accepted", "required": "required"},
    ]
    if proposed.patient_id:
        participants.insert(
            0,
            {
                "actor": {"reference": f"Patient/{proposed.patient_id}"},
                "status": "needs-action",
                "required": "required",
            },
        )
    return FAppointment(
        id=ids.encode(proposed),
        meta={"profile": [IHE_APPOINTMENT_PROFILE]},
        status="proposed",
        serviceType=[service_coding(protocol)],
        start=proposed.start,
        end=proposed.end,
        minutesDuration=proposed.minutes,
        description=f"Session {sequence} of the induction course" if sequence else None,
        reasonCode=reasons or None,
        comment=why or None,
        participant=participants,
    )
