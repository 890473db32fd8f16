"""The CapabilityStatement at /fhir/R4/metadata: the IHE Scheduling Server actor, and only
what this server implements."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from interop.fhir import representation as rep
from interop.fhir.closures import SCHEDULE_HORIZON_DAYS
from interop.fhir.params import FIND_SCAN_LIMIT, FIND_SCAN_ROUNDS, MAX_COUNT
from interop.fhir.resources import KINDS
from interop.fhir.scopes import ROLE_SCOPES
from interop.fhir.timing import WHEN_STARTS
from scheduling.services.idempotency import MAX_KEY_LENGTH

IHE_SERVER = "https://profiles.ihe.net/ITI/Scheduling/CapabilityStatement/IHE.Scheduling.server"
_OPERATIONS = "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-"

FIND_DOCUMENTATION = (
    "ITI-115. Inputs as IHE defines them: start and end (required), visit-type (our HealthcareService id or "
    "name: a protocol, which sets the session length and route), specialty (read as visit-type), practitioner "
    "(Practitioner/<nurse id>), location-reference (Location/site-<id> or Location/chair-<id>), patient-reference "
    "or patient-resource (matched by id or MRN), _count: at most that many proposals (default and most "
    f"{MAX_COUNT}); total counts every proposal that fits (of the first {FIND_SCAN_LIMIT} free times, or while "
    f"none of them fits the patient up to {FIND_SCAN_LIMIT * FIND_SCAN_ROUNDS}; past them no total is stated), and "
    "when more fit than are shown a warning "
    "OperationOutcome entry (code incomplete) says where the list was cut and how to ask for the rest. A GET "
    "$find (or HEAD: the same status and headers, no body) pages: its Bundle's next link (a sealed _page "
    "cursor, good only for the same query and user, 400 otherwise) goes on right after the last proposal shown, so walking the links shows every proposal once "
    "(a later page states no total). A POSTed $find has no address to page: no next link, and the note names "
    "the later start to $find again from (or a larger _count). TIMING (valueTiming, POST only): repeat.dayOfWeek "
    "(mon..sun) limits the proposals to those weekdays; repeat.timeOfDay (one value) is read as the earliest "
    "start; repeat.when limits the start to the clinic's stretch of the day ("
    + ", ".join(f"{code} {first:%H:%M}-{last:%H:%M}" for code, (first, last) in WHEN_STARTS.items())
    + "; several codes must join into one stretch); "
    "repeat.boundsPeriod cuts the window (for a course: its first day, and every session ends by its end); all "
    "on the site's wall clock, within its opening hours, for single sessions and for a course (within the "
    "patient's plan's own preferred days and times). Any other part of a Timing (event, code, count, duration, "
    "frequency, period, offset, boundsDuration, boundsRange, other when codes, several timeOfDay) answers 400 "
    "not-supported. A timing that leaves no time answers the empty Bundle with an informational "
    "OperationOutcome that says why. REASON (valueCodeableConcept, valueCoding or valueString; on GET a token "
    "code or system|code): chooses nothing; it is echoed as reasonCode on every proposal, and the proposal's id "
    "names it, so a proposal held or booked by appointment-reference keeps it, as one sent back whole as a $book "
    "appointment-resource keeps its reasonCode (`reason` on $hold or $book adds another, the same one twice is "
    "kept once); it is kept as a line 'EHR reason: ...' of "
    "the session's notes and answered as Appointment.reasonCode (its text and its codes; a display goes into "
    "the text), to clinicians only (the session's notes are clinical). Answers proposed Appointments, one per chair and free start, never stored: each id is a signed token "
    "that $hold and $book take as appointment-reference, good for FHIR_PROPOSAL_MAX_AGE_HOURS (default 24) from the "
    "hour it was given out in; an older one answers 410 (details code proposal_expired), and one whose reason is no "
    "longer kept, or is not the one it was found with, answers 404 (find_reason_gone, find_reason_mismatch): $find "
    "again. A WHOLE INDUCTION COURSE: add the parameter "
    "`course` = true (valueBoolean, or course=true on GET) with a patient; the answer is every session of the "
    "protocol's induction from the first free day on or after start (end bounds only single-session searches), "
    "planned under the patient's open plan for that protocol if there is one. Hold or book the course all or "
    "nothing by passing every session's appointment-reference in one $hold or $book."
)
IDEMPOTENCY_DOCUMENTATION = (
    "The Idempotency-Key header is optional on $hold and $book: without one each call acts; with one (1 to "
    f"{MAX_KEY_LENGTH} printable ASCII characters) a retry with the same key and body replays the first successful answer, its status "
    "and Location included, and the same key with another body answers 422."
)
HOLD_DOCUMENTATION = (
    "ITI-116. appointment-reference: a proposal from $find. Answers the pending Appointment, which occupies its "
    "chair, nurse and patient until it lapses (FHIR_HOLD_MINUTES, default 10; the Appointment carries the "
    "extension urn:clinic-scheduler:fhir:hold-expires). A time no longer free answers OperationOutcome 409 "
    "conflict. Repeating appointment-reference holds several (a course) all or nothing. A proposal you hold already "
    "answers 409 conflict (details code already_held) naming the hold (Appointment/<id>, until when) to $book; "
    "one another user holds answers 409 (held_by_another_user); one whose patient, site or chair you cannot reach "
    "answers 404 first, as $book does. The reason $find was given "
    "and reason (as $find's) are kept on each held session and answered as reasonCode (to clinicians). The only "
    "other parameter "
    "is reason; any other name answers 400 listing the accepted ones. " + IDEMPOTENCY_DOCUMENTATION
)
BOOK_DOCUMENTATION = (
    "ITI-117. appointment-reference: a held Appointment (Appointment/<id>), a proposal, or a free Slot from the "
    "Slot search (Slot/<id>); or appointment-resource: a NEW Appointment without an id (status booked; start; "
    "serviceType or appointmentType = the HealthcareService (protocol) id or name, as $find's visit-type; "
    "minutesDuration or end, if given, the protocol's session length; participants Patient/<id> (or the "
    "patient-resource parameter), Location/site-<id> or Location/chair-<id>, Practitioner/<id> optional: a nurse "
    "working at that site, anyone else answers 400), booked "
    "under the patient's open plan for that protocol if there is one; or an existing Appointment with a new start "
    "(a move; a Location/chair-<id> participant picks the chair) or with status cancelled (cancelationReason.text "
    "or comment is the reason). patient-resource names the patient (by MRN) for a proposal made without one. "
    "comment is kept in the booked or moved session's notes and answered as Appointment.comment; reason (as "
    "$find's), the reason a proposal booked by reference was found with, and an appointment-resource's "
    "reasonCode are kept there too and answered as reasonCode; a proposal sent back as appointment-resource keeps "
    "its own reasonCode if it has one, else the reason its id was found with. Appointment.comment and reasonCode "
    "come from the session's notes, which only clinicians read (as in the REST API): a patient and the front "
    "desk read Appointments without them. A new "
    "appointment-resource (no id) answers 201 Created with Location: [base]Appointment/<id>/_history/<versionId> "
    "of the new Appointment (the first one, when several are booked in one call); every other $book (a hold, a "
    "proposal, a move, a cancel) answers 200. Conflicts answer 409 with the reason in OperationOutcome; several "
    "appointment-resources are booked all or nothing. Parameters: appointment-reference, appointment-resource, "
    "patient-resource, comment, reason; any other name answers 400 listing them. " + IDEMPOTENCY_DOCUMENTATION
)


# Every read answers an If-None-Match naming its current version 304; only that version is kept,
# so a vread answers it and no other (readHistory false: no past version is ever read).
_CONDITIONAL_READ: dict[str, Any] = {"conditionalRead": "not-match", "readHistory": False}
_VERSIONED: dict[str, Any] = {"versioning": "versioned", **_CONDITIONAL_READ}
# Location, Schedule, HealthcareService, Practitioner, PractitionerRole (representation.by_content).
_CONTENT_VERSION = (
    "meta.versionId (the ETag) is a digest of the content: it changes exactly when what the resource says "
    "changes, a closure's start or end passing included, and two reads of the same content share it. No "
    "meta.lastUpdated: these rows keep no time of change, so none is claimed."
)

# Appointment (representation.appointment_resource): by content too, with the row's time of change.
APPOINTMENT_VERSION = (
    "meta.versionId (the ETag, and the version in $book's Location) is a digest of what the Appointment says "
    "to its reader: it changes when that changes, the protocol named in serviceType renamed included, and a "
    "save that changes nothing the reader is shown keeps it. The front desk's and a patient's copy (without "
    "reasonCode and comment) has its own version, which tells nothing of those fields. meta.lastUpdated is "
    "the appointment's last change, which may be one the reader is not shown."
)


def _resource(kind_name: str, interactions: list[str], search: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    return {
        "type": kind_name,
        "interaction": [{"code": code} for code in interactions],
        "searchParam": [{"name": name, "type": kind} for name, kind in search] or None,
        **extra,
    }


def capability_statement(base: str) -> CapabilityStatement:
    scopes = "; ".join(f"{role}: {' '.join(granted)}" for role, granted in ROLE_SCOPES.items())
    types = {
        "identifier": "token",
        "name": "string",
        "family": "string",
        "given": "string",
        "birthdate": "date",
        "patient": "reference",
        "date": "date",
        "status": "token",
        "actor": "reference",
        "location": "reference",
        "active": "token",
        "_lastUpdated": "date",
        "_id": "token",
    }

    def search_of(name: str) -> list[tuple[str, str]]:
        return [(p, types.get(p, "string")) for p in KINDS[name].search_parameters()]

    resources = [
        _resource(
            "Patient",
            ["read", "vread", "search-type", "create", "update"],
            search_of("Patient"),
            versioning="versioned-update",
            **_CONDITIONAL_READ,
            conditionalCreate=True,
            documentation=(
                "Create needs an identifier with the MRN system "
                f"({rep.mrn_system()}); a second patient with the same MRN answers 409 (code duplicate), "
                "If-None-Exist: identifier=<system>|<MRN> returns the existing one instead. Update needs If-Match "
                "with the ETag read (412 on a mismatch)."
            ),
        ),
        _resource(
            "Appointment",
            ["read", "vread", "search-type"],
            search_of("Appointment"),
            **_VERSIONED,
            profile=rep.IHE_APPOINTMENT_PROFILE,
            operation=[
                {"name": "find", "definition": f"{_OPERATIONS}find", "documentation": FIND_DOCUMENTATION},
                {"name": "hold", "definition": f"{_OPERATIONS}hold", "documentation": HOLD_DOCUMENTATION},
                {"name": "book", "definition": f"{_OPERATIONS}book", "documentation": BOOK_DOCUMENTATION},
            ],
            documentation=(
                "Find Existing Appointments (ITI-118) is this search. date=<YYYY-MM-DD> is that calendar day "
                "where each appointment's site is (a 09:00 session in Sydney on 3 March is on 3 March); a "
                "month (YYYY-MM) or a year (YYYY) is all its days there, and the prefixes compare with that "
                "whole range (date=2026-03: in March; ge2026-03: from 1 March; gt2026-03: from 1 April; "
                "le2026-03: to the end of March; lt2026-03: before March), as for every date parameter; a "
                "dateTime without an offset is UTC. In $find, a date (start, end) is the day at the site the "
                "times are found at, or the UTC day when sites in several time zones answer, a month or a "
                "year its first day; the window "
                "runs from the start of its start and ends at the start of its end (an end date is not "
                "searched), while a timing boundsPeriod's end date is included, as a Period's is (a month or "
                "a year to its last day). status: checked-in is a patient checked in or in the chair (the "
                "encounter under way); no session is ever arrived, so status=arrived finds none. " + APPOINTMENT_VERSION
            ),
        ),
        _resource(
            "Slot",
            ["read", "search-type"],
            [("schedule", "reference"), ("service-type", "token"), ("start", "date"), ("status", "token")],
            versioning="no-version",
            conditionalRead="not-supported",
            documentation=(
                "Computed by the scheduling engine on every request, never stored: free only. Search needs "
                "start=ge..&start=lt.. (at most 31 days; a date is the day where the chairs' sites are, or the UTC "
                "day when they are in several time zones) and one service-type (HealthcareService id). Slots carry "
                "no meta.lastUpdated and _lastUpdated is refused (400 not-supported): their free time also depends "
                "on shifts, closures and opening hours, which keep no time of change, so no Slot can honestly say "
                "when it last changed. For incremental sync, search the window again, and Appointment by "
                "_lastUpdated for changed bookings."
            ),
        ),
        _resource(
            "Schedule",
            ["read", "vread", "search-type"],
            search_of("Schedule"),
            **_VERSIONED,
            documentation=(
                "One per chair. active is the chair's own flag: a chair out of use for a period keeps an active "
                "Schedule, and its Slots in the period are busy. comment names the periods that close the chair "
                f"in the next {SCHEDULE_HORIZON_DAYS} days (the chair out of use, its site closed, every site "
                "closed), each with its reason for staff (a patient reads the periods without reasons: 'closed', "
                "'site closed'), on the site's clock (its time zone is named), '(now)' after one under way. A "
                "patient's copy has its own version. " + _CONTENT_VERSION
            ),
        ),
        _resource(
            "Location",
            ["read", "vread", "search-type"],
            search_of("Location"),
            **_VERSIONED,
            documentation=(
                "Location/site-<id> for a site (searchable), Location/chair-<id> for a chair (read). As of the "
                "moment of the request: status is suspended (temporarily closed) and operationalStatus "
                f"{rep.V2_BED_STATUS} C (Closed) while a closure covers it (for a chair: its own out-of-use "
                "period, its site's closure or one of every site; for a site: its own or every site's, a chair "
                "out of use leaves its site open); otherwise status is active and operationalStatus absent "
                "(occupancy, O or U, is not shown). A chair no longer used is inactive, with C while a closure "
                "covers it. status and operationalStatus are not searchable; the chair's Schedule names the "
                "periods ahead. " + _CONTENT_VERSION
            ),
        ),
        _resource(
            "HealthcareService",
            ["read", "vread", "search-type"],
            search_of("HealthcareService"),
            **_VERSIONED,
            documentation="One per treatment protocol (its route and session length). " + _CONTENT_VERSION,
        ),
        _resource("Practitioner", ["read", "vread", "search-type"], search_of("Practitioner"), **_VERSIONED),
        _resource("PractitionerRole", ["read", "vread", "search-type"], search_of("PractitionerRole"), **_VERSIONED),
    ]
    return CapabilityStatement(
        url=f"{base}metadata",
        name="InfusionClinicSchedulingServer",
        title="Infusion clinic scheduling: FHIR R4 server",
        status="active",
        date="2026-12-06",
        kind="instance",
        instantiates=[IHE_SERVER],
        implementation={"description": "Ketamine infusion clinic scheduler", "url": base},
        fhirVersion="4.0.1",
        format=["application/fhir+json"],
        rest=[
            {
                "mode": "server",
                "documentation": "IHE ITI Scheduling Server actor (ITI-115 $find, ITI-116 $hold, ITI-117 $book, "
                "ITI-118 Appointment search). Searches page with _count and the Bundle's next/previous links "
                "(a GET $find has a next link; a POSTed one cuts its answer and says so), which hold their place while rows are added or removed (_offset is read too, but shifts); "
                '_lastUpdated on Patient and Appointment for incremental sync; reads carry ETag W/"<versionId>" and answer '
                "304 Not Modified to an If-None-Match naming the current version. Only the current version is kept: "
                "vread ([type]/[id]/_history/[vid], the address a create's or $book's Location names) answers it "
                "when vid is the version the asker reads now, and for any other vid 404 with an OperationOutcome "
                "(not-found, details code version_not_kept) that says only the current version is kept; there is no history "
                "interaction. A vread is checked as a read is (scopes, and a resource the asker cannot see is 404).",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ],
                            "text": "Token",
                        }
                    ],
                    "description": (
                        "Authorization: Token <key>, the same tokens as the REST API (POST /api/v1/auth/token/ with username "
                        "and password). "
                        "A token holds the SMART v2 scopes of its user's role; staff reach their own sites, a "
                        f"patient only their own records. Scopes by role: {scopes}."
                    ),
                },
                "resource": resources,
            }
        ],
    )
