"""The FHIR R4 endpoints under /fhir/R4/: metadata, read and search, Patient writes."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseNotModified
from django.utils import timezone
from django.utils.http import parse_etags
from fhir.resources.R4B.patient import Patient as FPatient
from fhir.resources.R4B.resource import Resource

from clinic.dates import BIRTH_EARLIEST
from clinic.errors import InvalidState
from clinic.models import Chair
from clinic.permissions import site_ids
from interop.fhir import ids
from interop.fhir import representation as rep
from interop.fhir.base import FHIRView, base_url, fhir_response
from interop.fhir.capability import capability_statement
from interop.fhir.finding import find_free_times, free_time_key, sites_by_id
from interop.fhir.outcome import FHIRError, invalid, not_found, not_supported
from interop.fhir.paging import CURSOR, keyset_page, list_page, read_cursor
from interop.fhir.params import (
    DateCondition,
    count_of,
    date_condition,
    location_ids,
    offset_of,
    reference_id,
    require_in_range,
    row_number,
    zone_of,
)
from interop.fhir.resources import CHAIR_LOCATION, KINDS, Kind
from patients.models import Patient
from patients.services import patient_register, patient_update
from scheduling.models import Protocol


class MetadataView(FHIRView):
    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        # The CapabilityStatement is public: a client reads it before it has a token.
        self.perform_content_negotiation(request)

    def get(self, request: Any) -> Any:
        return fhir_response(capability_statement(base_url(request)))


class CatchAllView(FHIRView):
    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise FHIRError(404, "not-supported", f"No FHIR interaction at {request.path}.")


def _kind(resource_type: str) -> Kind | None:
    """The resource type's Kind; None for Slot, which is computed, not read from rows."""
    kind = KINDS.get(resource_type)
    if kind is None and resource_type != "Slot":
        raise FHIRError(404, "not-supported", f"{resource_type} is not a resource type this server offers.")
    return kind


def _etag(resource: Resource) -> str:
    version = resource.meta.versionId if resource.meta is not None else None
    return f'W/"{version or rep.version_of(None)}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """A conditional read's If-None-Match names the current version (compared weakly, as RFC 9110
    has it for this header: W/"v" and "v" are one version), or is *."""
    if not if_none_match:
        return False
    current = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in parse_etags(if_none_match))


def _not_modified(etag: str) -> HttpResponse:
    """304: the copy the client holds is the current version (checked after who may read it)."""
    response = HttpResponseNotModified()
    response["ETag"] = etag
    return response


# Slots are computed on each request from bookings, holds, shifts, closures and opening hours, and
# only bookings and holds keep a time of change: a Slot has no honest lastUpdated to search by.
SLOT_LAST_UPDATED_REFUSAL = (
    "Slot cannot be searched by _lastUpdated: Slots are computed on each request, never stored, and their free "
    "time also depends on shifts, closures and opening hours, which keep no time of change. Search the window "
    "again (start=ge..&start=lt..) for the current free Slots; use Appointment?_lastUpdated for changed bookings."
)


class TypeView(FHIRView):
    """GET [type]?params: search. POST Patient: create."""

    def get(self, request: Any, resource_type: str) -> Any:
        kind = _kind(resource_type)
        self.require_scope(resource_type, "s")
        params = self.query_params()
        count = count_of(request.query_params.get("_count"))
        offset = offset_of(request.query_params.get("_offset"))
        if kind is None:
            return self._slots(params, count, offset)
        cursor = read_cursor(
            request.query_params.get(CURSOR),
            params,
            width=len(kind.order),
            user_id=self.acting_user.pk,
            search=resource_type,
        )
        queryset = kind.search(self.actor, params)
        total = queryset.count()
        page = keyset_page(queryset, kind.order, cursor, count, offset)
        self.shown([kind.patient_of(row) for row in page.rows])
        bundle = self.searchset(list(kind.build(page.rows, self.actor)), total=total, page=page, path=resource_type)
        return fhir_response(bundle)

    def _slots(self, params: dict[str, list[str]], count: int, offset: int) -> Any:
        if any(name.split(":", 1)[0] == "_lastUpdated" for name in params):
            raise not_supported(SLOT_LAST_UPDATED_REFUSAL)
        known = {"schedule", "service-type", "start", "status", "_count", "_offset", CURSOR, "_format"}
        unknown = set(params) - known
        if unknown:
            raise not_supported(f"Slot cannot be searched by {', '.join(sorted(unknown))}.")
        statuses = {s for value in params.get("status", []) for s in value.split(",")}
        if statuses - {"free"}:
            raise not_supported("Only free Slots are computed (status=free): busy time is never exposed.")
        conditions = [date_condition(value, name="start") for value in params.get("start", [])]
        if _slot_window(conditions, ZoneInfo("UTC")) is None:
            raise invalid(SLOT_WINDOW_REFUSAL)
        # The cursor before the free times are computed: a bad one is refused without that work.
        cursor = read_cursor(
            self.request.query_params.get(CURSOR), params, width=3, user_id=self.acting_user.pk, search="Slot"
        )
        services = params.get("service-type", [])
        if len(services) != 1:
            raise invalid("Give one service-type: the HealthcareService (protocol) id whose session length to fit.")
        protocol_id = row_number(services[0].rpartition("|")[2])
        protocol = Protocol.objects.filter(pk=protocol_id, active=True).first() if protocol_id is not None else None
        if protocol is None:
            raise invalid(f"service-type: {services[0]!r} is not one of our HealthcareServices.")
        visible_chairs = KINDS["Schedule"].visible(self.actor)
        if "schedule" in params:
            wanted = [
                reference_id(v, "Schedule", name="schedule") for value in params["schedule"] for v in value.split(",")
            ]
            visible_chairs = visible_chairs.filter(pk__in=wanted)
        chairs: list[Chair] = list(visible_chairs.filter(active=True))
        sites = sites_by_id({c.site_id for c in chairs})
        # A calendar day is the day where the sites are (see zone_of).
        window = _slot_window(conditions, zone_of(s.zone for s in sites))
        if window is None:  # not reached: the same conditions gave a window above
            raise invalid(SLOT_WINDOW_REFUSAL)
        start, end = window
        patient = self.own_patient()
        found = find_free_times(
            sites=sites,
            start=start,
            end=end,
            protocol=protocol,
            now=timezone.now(),
            patient=patient,
            chairs=chairs,
            limit=None,  # the whole window (at most a month): its total, and pages past any point
        ).times
        page = list_page(found, free_time_key, cursor, count, offset=offset)
        bundle = self.searchset(
            [rep.slot_resource(p, protocol) for p in page.rows], total=len(found), page=page, path="Slot"
        )
        return fhir_response(bundle)

    def post(self, request: Any, resource_type: str) -> Any:
        if resource_type != "Patient":
            _kind(resource_type)
            raise FHIRError(405, "not-supported", f"{resource_type} cannot be created here.")
        self.require_scope("Patient", "c")
        existing = self._if_none_exist(request.headers.get("If-None-Exist"))
        if existing is not None:
            self.shown([existing.pk])
            resource = rep.patient_resource(existing)
            return fhir_response(resource, headers={"ETag": _etag(resource), "Location": self._location(existing)})
        resource = FPatient.model_validate(self.body_json())
        fields = _patient_fields(resource, require_mrn=True)
        fields["home_site"] = self._home_site(resource)
        duplicate = Patient.objects.filter(mrn=fields["mrn"]).first()
        if duplicate is not None:
            raise FHIRError(
                409, "duplicate", f"A patient with MRN {fields['mrn']} is already registered.", reason="duplicate_mrn"
            )
        try:
            with transaction.atomic():
                patient = patient_register(actor=request.user, now=timezone.now(), clinician=False, fields=fields)
        except InvalidState as exc:  # the same name and date of birth: one person, one chart
            _duplicate_shown(self, exc)
            raise FHIRError(409, "duplicate", exc.message, reason="duplicate_patient") from exc
        except IntegrityError as exc:  # the same MRN registered a moment ago
            raise FHIRError(
                409, "duplicate", "A patient with this MRN is already registered.", reason="duplicate_mrn"
            ) from exc
        self.shown([patient.pk])
        created = rep.patient_resource(patient)
        return fhir_response(created, status=201, headers={"ETag": _etag(created), "Location": self._location(patient)})

    def _location(self, patient: Patient) -> str:
        return f"{base_url(self.request)}Patient/{patient.pk}/_history/{rep.version_of(patient.updated_at)}"

    def _if_none_exist(self, header: str | None) -> Patient | None:
        if not header:
            return None
        name, _, value = header.partition("=")
        if name.strip() != "identifier" or not value:
            raise invalid("If-None-Exist: only identifier=<system>|<MRN> is supported.")
        matches = list(KINDS["Patient"].search(self.actor, {"identifier": [value]})[:2])
        if len(matches) > 1:
            raise FHIRError(412, "multiple-matches", "If-None-Exist matches more than one patient.")
        return matches[0] if matches else None

    def _home_site(self, resource: FPatient) -> Any:
        wanted = None
        for extension in resource.extension or []:
            if extension.url == HOME_SITE_EXTENSION and extension.valueReference is not None:
                wanted = location_ids([extension.valueReference.reference or ""], name="home-site")[0]
        visible = KINDS["Location"].visible(self.actor)
        if wanted:
            site = visible.filter(pk__in=wanted).first()
            if site is None:
                raise invalid("home-site: not a Location you work at.")
            return site
        mine = list(visible[:2])
        if len(mine) != 1:
            raise invalid(
                f"You work at several sites: say which is the patient's with the extension {HOME_SITE_EXTENSION}."
            )
        return mine[0]


HOME_SITE_EXTENSION = "urn:clinic-scheduler:fhir:home-site"


def _patient_fields(resource: FPatient, *, require_mrn: bool) -> dict[str, Any]:
    mrns = [i.value for i in resource.identifier or [] if i.value and (i.system in (None, rep.mrn_system()))]
    if require_mrn and not mrns:
        raise invalid(f"Give the patient's MRN as an identifier with system {rep.mrn_system()}.", reason="mrn_required")
    names = resource.name or []
    official = next((n for n in names if n.use == "official"), names[0] if names else None)
    if official is None or not official.family or not official.given:
        raise invalid("Give the patient's name with family and given.")
    if resource.birthDate is None:
        raise invalid("Give the patient's birthDate.")
    require_in_range(resource.birthDate, name="birthDate", earliest=BIRTH_EARLIEST)
    fields: dict[str, Any] = {
        "first_name": official.given[0],
        "last_name": official.family,
        "date_of_birth": resource.birthDate,
    }
    if mrns:
        fields["mrn"] = mrns[0]
    email = next((t.value for t in resource.telecom or [] if t.system == "email" and t.value), None)
    if email:
        fields["email"] = email
    return fields


def read_current(view: FHIRView, kind: Kind, resource_type: str, resource_id: str) -> tuple[Resource, int | None]:
    """The resource as `view`'s asker reads it now (its version theirs), and the patient it shows
    (for the access log, once it is answered); 404 for a row they cannot see, as for one that does
    not exist. The caller checked the read scope."""
    if resource_type == "Location" and resource_id.startswith("chair-"):
        kind = CHAIR_LOCATION
    pk = kind.row_id(resource_id)
    row = kind.visible(view.actor).filter(pk=pk).first() if pk is not None else None
    if row is None:
        raise not_found(resource_type, resource_id)
    return kind.build_one(row, view.actor), kind.patient_of(row)


class InstanceView(FHIRView):
    """GET [type]/[id]: read. PUT Patient/[id]: update with If-Match."""

    def get(self, request: Any, resource_type: str, resource_id: str) -> Any:
        kind = _kind(resource_type)
        self.require_scope(resource_type, "r")
        if kind is None:
            return self._slot(resource_id)
        resource, patient_id = read_current(self, kind, resource_type, resource_id)
        self.shown([patient_id])
        etag = _etag(resource)
        if _matches(request.headers.get("If-None-Match"), etag):
            return _not_modified(etag)
        return fhir_response(resource, headers={"ETag": etag})

    def _slot(self, resource_id: str) -> Any:
        proposed = ids.decode(resource_id, kind="s")
        protocol = Protocol.objects.filter(pk=proposed.protocol_id).first() if proposed else None
        if proposed is None or protocol is None:
            raise not_found("Slot", resource_id)
        reachable = site_ids(self.actor.staff) if self.actor.is_staff else None  # None: every site
        if reachable is not None and proposed.site_id not in reachable:
            raise not_found("Slot", resource_id)
        resource = rep.slot_resource(proposed, protocol)
        still_free = find_free_times(
            sites=sites_by_id([proposed.site_id]),
            start=proposed.start,
            end=proposed.end,
            protocol=protocol,
            now=timezone.now(),
            chairs=[c for c in KINDS["Schedule"].visible(self.actor).filter(pk=proposed.chair_id)],
        ).times
        if not still_free:
            resource.status = "busy"
        return fhir_response(resource)

    def put(self, request: Any, resource_type: str, resource_id: str) -> Any:
        if resource_type != "Patient":
            _kind(resource_type)
            raise FHIRError(405, "not-supported", f"{resource_type} cannot be updated here.")
        self.require_scope("Patient", "u")
        pk = KINDS["Patient"].row_id(resource_id)
        patient = KINDS["Patient"].visible(self.actor).select_for_update().filter(pk=pk).first() if pk else None
        if patient is None:
            raise not_found("Patient", resource_id)
        if_match = request.headers.get("If-Match")
        if not if_match:
            raise FHIRError(428, "required", 'Send the version you read in If-Match (W/"<versionId>").')
        current = rep.version_of(patient.updated_at)
        if if_match.strip().removeprefix("W/").strip('"') != current:
            raise FHIRError(
                412, "conflict", "The patient changed since you read it; read it again.", reason="stale_version"
            )
        resource = FPatient.model_validate(self.body_json())
        if resource.id is not None and resource.id != resource_id:
            raise invalid("The body's id differs from the address.")
        fields = _patient_fields(resource, require_mrn=False)
        if fields.get("mrn") and Patient.objects.filter(mrn=fields["mrn"]).exclude(pk=patient.pk).exists():
            raise FHIRError(409, "duplicate", f"Another patient has MRN {fields['mrn']}.", reason="duplicate_mrn")
        try:
            patient = patient_update(patient=patient, actor=request.user, fields=fields)
        except InvalidState as exc:  # edited into another patient's name and date of birth
            _duplicate_shown(self, exc)
            raise FHIRError(409, "duplicate", exc.message, reason="duplicate_patient") from exc
        self.shown([patient.pk])
        updated = rep.patient_resource(patient)
        return fhir_response(updated, headers={"ETag": _etag(updated)})


VERSION_NOT_KEPT = "version_not_kept"


class VersionView(FHIRView):
    """GET [type]/[id]/_history/[vid]: vread. Only the current version is kept: it answers as a read
    does; any other answers 404, as FHIR's RESTful API (http.html#vread) asks of a server that does
    not keep previous versions, with an OperationOutcome that says so and points to the read. It does
    not name the current version: a Patient's is its row's time of change, which only the read gives
    out (and logs)."""

    def get(self, request: Any, resource_type: str, resource_id: str, version_id: str) -> Any:
        kind = _kind(resource_type)
        self.require_scope(resource_type, "r")
        if kind is None:
            raise FHIRError(
                404,
                "not-supported",
                f"Slots are computed on each request and carry no version: read Slot/{resource_id}.",
            )
        # Who may read it first: a row the asker cannot see is the read's 404, whatever the version.
        resource, patient_id = read_current(self, kind, resource_type, resource_id)
        # Logged whatever the version: even the 404 tells the asker this record is one they reach, and
        # whether the version they hold is the current one.
        self.shown([patient_id])
        etag = _etag(resource)
        if version_id != etag.removeprefix("W/").strip('"'):
            raise FHIRError(
                404,
                "not-found",
                f"{resource_type}/{resource_id} version {version_id} is not kept: only the current version is "
                f"kept; read {resource_type}/{resource_id}.",
                reason=VERSION_NOT_KEPT,
            )
        if _matches(request.headers.get("If-None-Match"), etag):
            return _not_modified(etag)
        return fhir_response(resource, headers={"ETag": etag})


def _duplicate_shown(view: FHIRView, exc: InvalidState) -> None:
    """A duplicate refusal names the registered patient (to staff of a site of theirs): the
    access log names them too."""
    if isinstance(exc.details.get("patient_id"), int):
        view.shown([exc.details["patient_id"]])


SLOT_WINDOW_REFUSAL = "Give the window as start=ge<dateTime>&start=lt<dateTime> (at most 31 days)."


def _slot_window(conditions: list[DateCondition], zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime] | None:
    """The Slot search's [start, end) from its `start` conditions, a calendar day read in `zone`;
    None unless they bound it on both sides."""
    start = end = None
    for condition in (c.in_zone(zone) for c in conditions):
        if condition.prefix in ("ge", "gt", "eq"):
            start = condition.lower if condition.prefix != "gt" else condition.upper
        if condition.prefix in ("lt", "le", "eq"):
            end = condition.lower if condition.prefix == "lt" else condition.upper
    return (start, end) if start is not None and end is not None else None
